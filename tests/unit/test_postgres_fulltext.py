"""The PostgreSQL backend's reading of the FTS5 rendering into tsquery text, its folding of
words as FTS5's unicode61 tokenizer does, its FTS5-style snippets and its NUL-safe bodies."""

from __future__ import annotations

import pytest
from agentmail_server.domain.search_query import to_fts
from agentmail_server.storage.postgres.fulltext import (
    NOTHING,
    fold,
    query_words,
    snippet,
    to_tsquery,
)
from agentmail_server.storage.postgres.rows import escape_body, unescape_body
from hypothesis import given
from hypothesis import strategies as st


@pytest.mark.parametrize(
    ("query", "tsquery"),
    [
        ("deploy", "'deploy'"),
        ("POL-358 staging", "(('pol' <-> '358') & 'staging')"),
        ("auth*", "'auth':*"),
        ("deploy OR release", "('deploy' | 'release')"),
        ("deploy NOT staging", "('deploy' & ! 'staging')"),
        ('subject:"release notes"', "('release':A <-> 'notes':A)"),
        ("body:foo*", "'foo':*B"),
        ("café", "'cafe'"),
        ("subject:(body:auth)", NOTHING),
        ("subject:(subject:auth)", "'auth':A"),
    ],
)
def test_each_query_form_becomes_its_tsquery(query: str, tsquery: str) -> None:
    assert to_tsquery(to_fts(query)) == tsquery


def test_folding_drops_accents_and_case_but_keeps_full_width_letters_apart() -> None:
    assert fold("Ünïcode CAFÉ") == "unicode cafe"
    assert fold("\uff41\uff55\uff54\uff48") != "auth"  # full-width "auth"
    assert fold("foo.bar/baz_qux") == "foo bar baz qux"


def test_a_snippet_brackets_every_match_in_the_best_window() -> None:
    words = query_words(to_fts("deploy"))
    text = "deploy then deploy again and deploy once more today"
    assert snippet("Weekly sync notes", text, words) == (
        "[deploy] then [deploy] again and [deploy] once more today"
    )


def test_a_snippet_of_a_long_text_is_an_excerpt_marked_with_ellipses() -> None:
    words = [f"w{i}" for i in range(400)]
    words[300] = "needle"
    cut = snippet("long", " ".join(words), query_words(to_fts("needle")))
    assert "[needle]" in cut and cut.startswith("…") and len(cut) < 200


def test_a_prefix_matches_the_start_of_words_only() -> None:
    cut = snippet("", "deployment redeploy", query_words(to_fts("depl*")))
    assert cut == "[deployment] redeploy"


@given(st.text())
def test_every_body_survives_its_stored_form(body: str) -> None:
    stored = escape_body(body)
    assert "\x00" not in stored
    assert unescape_body(stored) == body


@given(st.text(min_size=1, max_size=200))
def test_every_parsed_query_has_a_tsquery(query: str) -> None:
    try:
        rendered = to_fts(query)
    except Exception:  # the parser's own refusals (InvalidArgument) are not ours to test
        return
    assert to_tsquery(rendered)
