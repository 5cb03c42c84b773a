"""Prefix terms stood for the words they cover (storage.sqlite.prefix_terms), on a real
database migrated to the current schema: the expanded MATCH finds exactly the messages the
prefix finds, for any corpus and query, and only eligible prefixes within the bounds expand."""

from __future__ import annotations

import pathlib
import sqlite3
from collections.abc import Iterator

import pytest
from agentmail_server.domain.search_query import to_fts
from agentmail_server.storage.sqlite import prefix_terms, schema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


@pytest.fixture
def index(tmp_path: pathlib.Path) -> Iterator[sqlite3.Connection]:
    """A migrated database whose ``messages_fts`` indexes what ``fill`` puts in."""
    conn = sqlite3.connect(tmp_path / "agentmail.sqlite3", isolation_level=None)
    schema.migrate(conn)
    yield conn
    conn.close()


def fill(conn: sqlite3.Connection, documents: list[tuple[str, str]]) -> None:
    # An external-content index forgets everything at once with 'delete-all'.
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('delete-all')")
    conn.executemany(
        "INSERT INTO messages_fts (rowid, subject, body) VALUES (?, ?, ?)",
        [(rowid, subject, body) for rowid, (subject, body) in enumerate(documents, 1)],
    )


def found(conn: sqlite3.Connection, match: str) -> set[int]:
    rows = conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?", (match,))
    return {row[0] for row in rows}


def test_a_prefix_becomes_the_or_of_the_words_it_covers(index: sqlite3.Connection) -> None:
    fill(index, [("Deploy", "deployed now"), ("x", "deployment"), ("x", "deplane"), ("x", "dep")])
    match = to_fts("deplo*")
    assert prefix_terms.expand(index, match) == '("deploy" OR "deployed" OR "deployment")'
    assert found(index, prefix_terms.expand(index, match)) == found(index, match) == {1, 2}


def test_words_folded_from_accents_are_covered(index: sqlite3.Connection) -> None:
    # unicode61 with remove_diacritics 2 indexes "Déployé" as "deploye": an ASCII prefix
    # still finds it, because the words come from the index.
    fill(index, [("x", "Déployé hier"), ("x", "deployment"), ("x", "other")])
    expanded = prefix_terms.expand(index, to_fts("DEPLO*"))
    assert expanded == '("deploye" OR "deployment")'
    assert found(index, expanded) == {1, 2}


@pytest.mark.parametrize(
    "query",
    [
        "deploy",  # no prefix at all
        '"auth migr"*',  # the prefix of a phrase
        "dép*",  # not ASCII: the tokenizer's folding decides, so FTS5 does it
        "zzz*",  # covers no word: left for FTS5, which finds nothing
    ],
)
def test_other_terms_are_left_as_they_are(index: sqlite3.Connection, query: str) -> None:
    fill(index, [("auth migration", "déploiement deploy")])
    match = to_fts(query)
    assert prefix_terms.expand(index, match) == match


def test_quoted_text_that_looks_like_a_prefix_is_not_touched(index: sqlite3.Connection) -> None:
    fill(index, [("x", "deploy")])
    # A quote inside an FTS5 string is written twice; the string below holds `a" "deplo`.
    match = '"a"" ""deplo" * AND "deplo" *'
    assert prefix_terms.expand(index, match) == '"a"" ""deplo" * AND ("deploy")'


def test_a_prefix_covering_too_many_words_stays_a_prefix(index: sqlite3.Connection) -> None:
    words = [f"pfx{n:02d}" for n in range(prefix_terms.MAX_WORDS_PER_PREFIX + 1)]
    fill(index, [("x", word) for word in words])
    match = to_fts("pfx*")
    assert prefix_terms.expand(index, match) == match
    fill(index, [("x", word) for word in words[:-1]])
    assert prefix_terms.expand(index, match).count(" OR ") == len(words) - 2


def test_the_words_of_a_whole_query_are_bounded(index: sqlite3.Connection) -> None:
    per = prefix_terms.MAX_WORDS // 2
    fill(index, [("x", f"{stem}{n:02d}") for stem in "abc" for n in range(per)])
    expanded = prefix_terms.expand(index, to_fts("a* OR b* OR c*"))
    # The first two use the whole budget; the third stays a prefix, and nothing is lost.
    assert expanded.count(" OR ") == 2 * (per - 1) + 2
    assert expanded.endswith('"c" *)')
    assert found(index, expanded) == found(index, to_fts("a* OR b* OR c*"))


# Words from a small alphabet, accents included, so prefixes cover several words, words fold
# into others (é -> e) and the bounds are reached now and then.
_LETTERS = "abcé"
words = st.text(alphabet=_LETTERS, min_size=1, max_size=5)
documents = st.lists(
    st.tuples(st.lists(words, max_size=3).map(" ".join), st.lists(words, max_size=8).map(" ".join)),
    min_size=1,
    max_size=40,
)
terms = st.builds(
    lambda text, prefix: text + ("*" if prefix else ""),
    st.text(alphabet="abcéABC", min_size=1, max_size=3),
    st.booleans(),
)
queries = st.recursive(
    terms
    | st.builds(
        lambda column, term: f"{column}:{term}", st.sampled_from(["subject", "body"]), terms
    ),
    lambda inner: st.builds(
        lambda left, op, right: f"({left} {op} {right})",
        inner,
        st.sampled_from(["AND", "OR", "NOT"]),
        inner,
    ),
    max_leaves=5,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(documents=documents, query=queries)
def test_the_expanded_query_finds_exactly_what_the_prefix_finds(
    index: sqlite3.Connection, documents: list[tuple[str, str]], query: str
) -> None:
    fill(index, documents)
    match = to_fts(query)
    expanded = prefix_terms.expand(index, match)
    assert found(index, expanded) == found(index, match), (match, expanded)
