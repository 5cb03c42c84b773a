"""Pattern-against-pattern overlap: a table of pairs checked both ways, and properties on random
patterns checked against pathspec's own path matching.

Every ``True`` that :func:`overlaps` answers comes with an example path (:func:`common_path`)
which both patterns must match through pathspec: that shows no overlap is invented. Random paths
matched by both patterns show none is missed.
"""

from __future__ import annotations

import pytest
from agentmail_server.domain.reservation_patterns import (
    Pattern,
    PatternError,
    common_path,
    compile_pattern,
    matches_path,
    normalize,
    overlaps,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st


def pattern(raw: str) -> Pattern:
    return compile_pattern(normalize(raw))


def assert_overlap(a: Pattern, b: Pattern, expected: bool) -> None:
    assert overlaps(a, b) is expected, (a.text, b.text)
    assert overlaps(b, a) is expected, (b.text, a.text)
    for first, second in ((a, b), (b, a)):
        example = common_path(first, second)
        assert (example is not None) is expected
        if example is not None:
            assert matches_path(first, example), (first.text, example)
            assert matches_path(second, example), (second.text, example)


# (a, b, overlap). gitignore semantics: without a slash (other than a trailing one) a pattern
# matches at any depth, and a matched path covers everything below it, since any reserved
# path may be a directory. So an unanchored pattern overlaps every path pattern (`*.md`
# covers `src/a.py/x.md`), and a `**` overlaps everything below the segments before it.
TABLE = [
    # The examples.
    ("src/**", "src/a.py", True),
    ("*.py", "src/*.py", True),
    ("docs/", "docs/**/x.md", True),
    # Literal paths.
    ("src/a.py", "src/a.py", True),
    ("src/a.py", "src/b.py", False),
    ("src/a.py", "src/a.pyc", False),
    ("src/a.py", "lib/a.py", False),
    ("src/a.py", "src/a.py/x", True),
    ("src/a", "src/ab", False),
    # Case matters, for paths and resources alike.
    ("Src/a.py", "src/a.py", False),
    ("src/A.py", "src/a.py", False),
    ("src/*.PY", "src/a.py", False),
    ("tool://lint", "tool://Lint", False),
    # Directories cover what is below them.
    ("docs", "docs/guide/intro.md", True),
    ("docs/", "docs/a.md", True),
    ("docs/", "docs", True),
    ("src/api/", "src/api/v1/h.py", True),
    ("src/api", "src/api/v1/h.py", True),
    ("src/api/", "src/web/", False),
    ("src/api/", "src/apiv2/x.py", False),
    ("src/api/**", "src/api", True),
    ("src/api/**", "src/ap", False),
    ("src/docs/", "docs/a.md", False),
    ("docs/", "src/docs/a.md", True),
    ("src/", "src/**", True),
    # '**' first.
    ("**/test_*.py", "tests/test_a.py", True),
    ("**/fixtures/**", "tests/fixtures/data.json", True),
    ("**", "src/a.py", True),
    ("**/", "README.md", True),
    ("**", "**", True),
    # '**' in the middle.
    ("src/**/test.py", "src/a/b/test.py", True),
    ("src/**/test.py", "src/test.py", True),
    ("src/**/test.py", "lib/a/test.py", False),
    ("src/**/x", "lib/**/x", False),
    ("a/**/b/**/c", "a/b/c", True),
    ("a/**/b/c", "a/x/y/b/c", True),
    ("a/**/b", "*/x/b", True),
    ("a/b/**/c", "a/c/**", False),
    ("src/**/*.py", "src/**/*.md", True),  # src/x.py/y.md
    # '**' last.
    ("src/**", "src/", True),
    ("src/**", "lib/**", False),
    ("src/a/**", "src/b/**", False),
    ("src/a/**", "src/*", True),
    ("src/a/**", "src/*.py", False),
    # '*'.
    ("src/*", "src/a.py", True),
    ("src/*", "src/sub/a.py", True),
    ("src/*", "lib/a.py", False),
    ("src/*.py", "src/*.md", False),
    ("src/*.py", "src/a.py", True),
    ("src/*.py", "src/a.pyc", False),
    ("src/*.py", "src/sub/a.py", False),
    ("src/a*.py", "src/*b.py", True),
    ("src/a*.py", "src/b*.py", False),
    ("src/*_test.py", "src/test_*.py", True),
    ("src/*.tar.gz", "src/*.gz", True),
    ("src/*.tar.gz", "src/*.tar", False),
    ("src/a*b*c", "src/*d*", True),
    ("src/*/a.py", "src/b/*/c.py", True),  # src/b/a.py/c.py
    ("src/*/a.py", "src/b/c/*.py", False),
    ("src/*/a.py", "src/b/*", True),
    ("*/a.py", "src/b.py", False),
    ("*/a.py", "src/a.py", True),
    # '?'.
    ("src/?.py", "src/a.py", True),
    ("src/?.py", "src/ab.py", False),
    ("src/??.py", "src/?.py", False),
    ("src/a?c", "src/?b?", True),
    ("src/??", "src/a", False),
    ("src/?/x", "src/ab/x", False),
    ("src/?*", "src/a", True),
    # Sets.
    ("src/[ab].py", "src/b.py", True),
    ("src/[ab].py", "src/c.py", False),
    ("src/[a-c].py", "src/[c-e].py", True),
    ("src/[a-c].py", "src/[d-f].py", False),
    ("src/[!a].py", "src/a.py", False),
    ("src/[!a].py", "src/[ab].py", True),
    ("src/[!ab].py", "src/[ab].py", False),
    ("src/[!a-y].py", "src/[!b-z].py", True),
    ("src/[]].py", "src/].py", True),
    ("src/[^x]y", "src/xy", False),
    ("src/v[0-9]", "src/v1/a.py", True),
    ("src/v[0-9]", "src/va", False),
    ("src/[ab]*", "src/*[cd]", True),
    ("src/[a-c]", "src/?", True),
    # Resources match only themselves and never a path.
    ("tool://lint", "tool://lint", True),
    ("tool://lint", "tool://format", False),
    ("tool://lint", "service://lint", False),
    ("tool://lint", "**", False),
    ("tool://lint", "*", False),
    ("service://db", "db", False),
    ("service://db/*", "service://db/x", False),
    # No slash: any depth, hence any path pattern.
    ("*.py", "src/deep/a.py", True),
    ("a.py", "src/a.py", True),
    ("*.md", "src/a.py", True),
    ("#notes.md", "docs/#notes.md", True),
    # Spelled differently, normalised alike.
    ("./src/a.py", "src/a.py", True),
    ("src\\a.py", "src/a.py", True),
    ("/README.md", "docs/README.md", True),  # stripping '/' unanchors it
    ("a***b", "src/a*b", True),
]


def test_the_table_is_big_enough_and_has_no_duplicates() -> None:
    assert len(TABLE) >= 60
    assert len({(a, b) for a, b, _ in TABLE}) == len(TABLE)
    assert sum(1 for *_, expected in TABLE if not expected) >= 30


@pytest.mark.parametrize(("a", "b", "expected"), TABLE)
def test_overlap_table(a: str, b: str, expected: bool) -> None:
    assert_overlap(pattern(a), pattern(b), expected)


def test_every_pattern_overlaps_itself() -> None:
    for a, b, _ in TABLE:
        for text in (a, b):
            assert overlaps(pattern(text), pattern(text)), text


# Random patterns over a tiny alphabet, so that random paths often match both.
SEGMENTS = ["a", "b", "ab", "*", "a*", "*b", "?", "??", "[ab]", "[!a]", "[a-b]", "b?", "**", "*a*"]
NAMES = ["a", "b", "ab", "ba", "aa", "bb", "c", "abc"]


@st.composite
def segment_patterns(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4))
    lead = draw(st.sampled_from(["", "/"]))
    tail = draw(st.sampled_from(["", "/"]))
    return lead + "/".join(names) + tail


@st.composite
def character_patterns(draw: st.DrawFn) -> str:
    """Character-level noise, bracket edge cases included (']' first, '!', '^', '-')."""
    text = draw(st.text(alphabet="ab-]![^*?/", min_size=1, max_size=10))
    try:
        return normalize(text)
    except PatternError:
        assume(False)
        raise


patterns = st.one_of(segment_patterns(), segment_patterns(), character_patterns())
paths = st.lists(st.sampled_from([*NAMES, "-", "]", "!", "^"]), min_size=1, max_size=5).map(
    "/".join
)


@settings(max_examples=250, deadline=None)
@given(a=patterns, b=patterns, candidates=st.lists(paths, min_size=1, max_size=12))
def test_overlap_misses_no_shared_path_and_invents_none(
    a: str, b: str, candidates: list[str]
) -> None:
    first, second = pattern(a), pattern(b)
    answer = overlaps(first, second)
    assert answer == overlaps(second, first)
    if any(matches_path(first, p) and matches_path(second, p) for p in candidates):
        assert answer, (first.text, second.text)
    example = common_path(first, second)
    assert (example is not None) == answer
    if example is not None:
        assert matches_path(first, example) and matches_path(second, example), example


@settings(max_examples=100, deadline=None)
@given(a=patterns, b=patterns)
def test_a_matched_path_and_its_prefixes(a: str, b: str) -> None:
    """Soundness where it is hardest: the example of one pair, cut short or extended, against
    a pattern of another pair."""
    first, second = pattern(a), pattern(b)
    example = common_path(first, first) or "a"
    names = example.split("/")
    for end in range(1, len(names) + 1):
        for path in ("/".join(names[:end]), "/".join([*names[:end], "b"])):
            if matches_path(first, path) and matches_path(second, path):
                assert overlaps(first, second), (first.text, second.text, path)


@settings(max_examples=200, deadline=None)
@given(raw=st.text(alphabet="ab./\\*?[]!- ", max_size=12))
def test_normalize_is_idempotent(raw: str) -> None:
    try:
        normal = normalize(raw)
    except PatternError:
        return
    assert normalize(normal) == normal
    assert compile_pattern(normal).text == normal
