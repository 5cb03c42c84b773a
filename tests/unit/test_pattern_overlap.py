"""Pattern-against-pattern overlap: a table of pairs checked both ways, and properties on random
patterns checked against a reference reading of the rules built on pathspec.

The reference (:func:`covers_file`, :func:`ancestor_rule`) is deliberately naive: pathspec's
expression for a pattern tried on a file and on each of its ancestors, and the ancestor rule
read off the pattern's text. Every ``True`` that :func:`overlaps` answers comes with an
example (:func:`common_path`) the reference must accept: that shows no overlap is invented.
Random files covered by both patterns show none is missed.
"""

from __future__ import annotations

import itertools
import re

import pytest
from agentmail_server.domain.glob_segments import parse_segment
from agentmail_server.domain.reservation_patterns import (
    Pattern,
    PatternError,
    common_path,
    compile_pattern,
    normalize,
    overlaps,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st


def pattern(raw: str) -> Pattern:
    return compile_pattern(normalize(raw))


# A segment without wildcards (the reference does not read one-character sets as literals:
# the random patterns below leave them out).
LITERAL = re.compile(r"[^*?\[]+")


def is_directory_pattern(text: str) -> bool:
    return text.endswith("/") or text.rsplit("/", maxsplit=1)[-1] == "**"


def ancestors(path: str) -> list[str]:
    names = path.split("/")
    return ["/".join(names[:end]) for end in range(1, len(names))]


def covers_file(p: Pattern, path: str) -> bool:
    """Rule 1: a directory pattern covers a file it, or one of its directories, matches; any
    other pattern only a file it matches itself, by name (never through a directory)."""
    assert p.regex is not None
    if is_directory_pattern(p.text):
        return any(p.regex.search(x) for x in [path, *(d + "/" for d in ancestors(path))])
    if p.regex.pattern == ".":
        return True  # pathspec's reading of '*' and '**/*': every path, and so every name
    return p.regex.fullmatch(path) is not None  # '(/|$)' ends its expression: no directory


def proven_directories(text: str) -> list[str]:
    """The directories an anchored pattern's literal leading segments name, below which every
    file it covers lies."""
    if "/" not in text.rstrip("/"):
        return []  # unanchored
    names = text.rstrip("/").split("/")
    leading = list(itertools.takewhile(LITERAL.fullmatch, names))
    if len(leading) == len(names) and not is_directory_pattern(text):
        leading.pop()  # the last name of a bare file pattern is the file
    return ["/".join(leading[:end]) for end in range(1, len(leading) + 1)]


def ancestor_rule(bare: Pattern, other: Pattern) -> bool:
    """Rule 2: ``bare`` has no wildcard nor trailing slash and names a proven directory of
    ``other``."""
    assert bare.regex is not None
    if bare.text.endswith("/") or not all(map(LITERAL.fullmatch, bare.text.split("/"))):
        return False
    return any(bare.regex.fullmatch(d) for d in proven_directories(other.text))


def explains(a: Pattern, b: Pattern, example: str) -> bool:
    """Whether the reference accepts ``example`` as showing that ``a`` and ``b`` overlap."""
    if covers_file(a, example) and covers_file(b, example):
        return True
    for bare, other in ((a, b), (b, a)):
        if ancestor_rule(bare, other) and covers_file(other, example):
            assert bare.regex is not None
            if any(bare.regex.fullmatch(d) for d in ancestors(example)):
                return True
    return False


def assert_overlap(a: Pattern, b: Pattern, expected: bool) -> None:
    assert overlaps(a, b) is expected, (a.text, b.text)
    assert overlaps(b, a) is expected, (b.text, a.text)
    for first, second in ((a, b), (b, a)):
        example = common_path(first, second)
        assert (example is not None) is expected
        if example is None:
            continue
        if first.resource:
            assert example == first.text == second.text
        else:
            assert explains(first, second, example), (first.text, second.text, example)


# (a, b, overlap). Patterns name files unless marked as directories (a trailing '/' or '**'):
# without a slash (other than a trailing one) a pattern matches at any depth, a directory
# pattern covers every file below what it names, and any other pattern only the files its last
# segment matches. A bare path (no wildcard, no trailing slash) also overlaps a pattern whose
# anchored, wildcard-free leading segments name a directory it matches (the ancestor rule).
TABLE = [
    # The examples.
    ("src/**", "src/a.py", True),
    ("*.py", "src/*.py", True),
    ("docs/", "docs/**/x.md", True),
    # Files, unless marked as directories: different kinds of file in one tree stay apart.
    ("src/**/*.py", "src/**/*.ts", False),
    ("*.md", "docs/", True),  # docs/x.md
    ("*.md", "src/", True),
    ("*.md", "README.md", True),
    ("*.md", "docs/**", True),
    ("*.md", "docs/*.py", False),
    ("*.py", "*.ts", False),
    ("*.py", "**/*.py", True),
    ("*.py", "**", True),
    ("**/*.py", "**/", True),  # a/x.py: '**/' is any directory, never the root
    ("README.md", "docs/", True),  # docs/README.md
    ("src/**/*.py", "src/a/b.py", True),
    ("src/**/*.py", "src/a.py/b.md", False),
    ("src/*.py", "**/test_*.py", True),
    ("tests/**/*.py", "src/**", False),
    ("docs/*.md", "docs/", True),
    ("docs/*.md", "docs/a/", False),
    ("docs/**", "docs/*.md", True),
    ("src/*", "src/**", True),
    ("src/*", "src/a/", False),
    ("a/**/b", "a/b/c", False),
    ("a/**/b", "a/x/b", True),
    ("a/*/", "a/b/c.py", True),
    ("a/*/", "a/b.py", False),
    # Ancestors: a bare path against what literally lies below it.
    ("src", "src/a.py", True),
    ("src", "src/**/*.py", True),
    ("src/lib", "src/lib/x/*.ts", True),
    ("src/lib", "src/lib/", True),
    ("src/lib", "src/lib/**", True),
    ("src/a.py", "src/a.py/", True),
    ("src/a", "src/a/b/c/d.py", True),
    ("lib", "src/lib/a.py", True),  # slash-less: 'lib' matches the directory src/lib
    ("src", "lib/src/x.py", True),
    ("src", "*.md", False),  # unanchored: names no directory literally
    ("src/a.py", "*.md", False),
    ("src", "*/a.py", False),  # its first segment is a glob
    ("src", "**/src/a.py", False),
    ("src/lib", "src/*.ts", False),
    ("src/lib", "src/l*/x.py", False),
    ("src/a", "src/a*/x.py", False),
    ("src/lib", "lib/x.py", False),
    ("a/src/**", "a/src", True),  # no file in common: the ancestor rule alone
    ("src/lib/x.py", "src/lib", True),
    ("src/**/", "src/a.py", True),
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
    ("src/**/*.py", "src/**/*.md", False),  # src/x.py/y.md: a file pattern names no directory
    # '**' last.
    ("src/**", "src/a/", True),
    ("src/**", "lib/**", False),
    ("src/a/**", "src/b/**", False),
    ("src/a/**", "src/*", False),  # the files below src/a are not in src
    ("src/a/**", "src/*.py", False),
    # '*'.
    ("src/*", "src/a.py", True),
    ("src/*", "src/sub/a.py", False),
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
    ("src/*/a.py", "src/b/*/c.py", False),  # src/b/a.py/c.py: a.py is a file
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
    ("src/v[0-9]", "src/v1/a.py", False),  # a glob is not bare: no ancestor rule
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
    ("*.md", "src/a.py/x.md", True),  # a pattern proving src/a.py a directory
    ("#notes.md", "docs/#notes.md", True),
    # Spelled differently, normalised alike.
    ("./src/a.py", "src/a.py", True),
    ("src\\a.py", "src/a.py", True),
    ("/README.md", "docs/README.md", True),  # stripping '/' unanchors it
    ("a***b", "src/a*b", True),
]


def test_the_table_is_big_enough_and_has_no_duplicates() -> None:
    assert len(TABLE) >= 140
    pairs = {frozenset((a, b)) for a, b, _ in TABLE}
    assert len(pairs) == len(TABLE)
    assert sum(1 for *_, expected in TABLE if not expected) >= 60


@pytest.mark.parametrize(("a", "b", "expected"), TABLE)
def test_overlap_table(a: str, b: str, expected: bool) -> None:
    assert_overlap(pattern(a), pattern(b), expected)


def test_a_one_character_set_is_no_wildcard_for_the_ancestor_rule() -> None:
    bare, below = pattern("src/[a]"), pattern("src/a/x.py")
    assert overlaps(bare, below) and overlaps(below, bare)
    assert common_path(bare, below) == common_path(below, bare) == "src/a/x.py"
    assert not overlaps(pattern("src/[ab]"), below)


def test_every_pattern_overlaps_itself() -> None:
    for a, b, _ in TABLE:
        for text in (a, b):
            assert overlaps(pattern(text), pattern(text)), text


# Random patterns over a tiny alphabet, so that random paths often match both.
SEGMENTS = ["a", "b", "ab", "*", "a*", "*b", "?", "??", "[ab]", "[!a]", "[a-b]", "b?", "**", "*a*"]
NAMES = ["a", "b", "ab", "ba", "aa", "bb", "c", "abc"]


def reference_reads(text: str) -> bool:
    """Whether the reference reads the pattern as the rules do: no one-character set (a
    literal to the rules, a wildcard to :data:`LITERAL`)."""
    names = [name for name in text.rstrip("/").split("/") if name != "**"]
    return not any("[" in name and not parse_segment(name).wildcards for name in names)


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
        normal = normalize(text)
    except PatternError:
        assume(False)
        raise
    assume(reference_reads(normal))
    return normal


@st.composite
def literal_led_patterns(draw: st.DrawFn) -> str:
    """Literal names, perhaps ending in a glob: bare paths and what lies below them, where the
    ancestor rule applies."""
    names = draw(st.lists(st.sampled_from(["a", "b", "ab"]), min_size=1, max_size=3))
    end = draw(st.sampled_from(["", "", "/", "/**", "/*", "/**/a*"]))
    return "/".join(names) + end


patterns = st.one_of(
    segment_patterns(), segment_patterns(), character_patterns(), literal_led_patterns()
)
paths = st.lists(st.sampled_from([*NAMES, "-", "]", "!", "^"]), min_size=1, max_size=5).map(
    "/".join
)


def check_against_the_reference(first: Pattern, second: Pattern, candidates: list[str]) -> None:
    answer = overlaps(first, second)
    assert answer == overlaps(second, first)
    if ancestor_rule(first, second) or ancestor_rule(second, first):
        assert answer, (first.text, second.text)
    if any(covers_file(first, p) and covers_file(second, p) for p in candidates):
        assert answer, (first.text, second.text)
    for one, other in ((first, second), (second, first)):
        example = common_path(one, other)
        assert (example is not None) == answer
        if example is not None:
            assert explains(one, other, example), (one.text, other.text, example)


@settings(max_examples=250, deadline=None)
@given(a=patterns, b=patterns, candidates=st.lists(paths, min_size=1, max_size=12))
def test_overlap_misses_no_shared_file_and_invents_none(
    a: str, b: str, candidates: list[str]
) -> None:
    check_against_the_reference(pattern(a), pattern(b), candidates)


@settings(max_examples=100, deadline=None)
@given(a=literal_led_patterns(), b=literal_led_patterns(), candidates=st.lists(paths, max_size=4))
def test_bare_paths_against_what_lies_below_them(a: str, b: str, candidates: list[str]) -> None:
    check_against_the_reference(pattern(a), pattern(b), candidates)


@settings(max_examples=100, deadline=None)
@given(a=patterns, b=patterns)
def test_a_covered_file_its_directories_and_below(a: str, b: str) -> None:
    """Soundness where it is hardest: a file each pattern covers, cut short or extended,
    against the other pattern."""
    first, second = pattern(a), pattern(b)
    for one in (first, second):
        names = (common_path(one, one) or "a").split("/")
        for end in range(1, len(names) + 1):
            for path in ("/".join(names[:end]), "/".join([*names[:end], "b"])):
                if covers_file(first, path) and covers_file(second, path):
                    assert overlaps(first, second), (first.text, second.text, path)


def test_a_pattern_covers_its_own_example() -> None:
    for a, b, _ in TABLE:
        for text in (a, b):
            compiled = pattern(text)
            example = common_path(compiled, compiled)
            if not compiled.resource:
                assert example is not None and covers_file(compiled, example), (text, example)


@settings(max_examples=200, deadline=None)
@given(raw=st.text(alphabet="ab./\\*?[]!- ", max_size=12))
def test_normalize_is_idempotent(raw: str) -> None:
    try:
        normal = normalize(raw)
    except PatternError:
        return
    assert normalize(normal) == normal
    assert compile_pattern(normal).text == normal
