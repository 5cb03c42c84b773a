"""Reservation patterns: the normal form, every rejection reason, and matching paths."""

from __future__ import annotations

import pytest
from agentmail_server.domain import reservation_patterns as rp
from agentmail_server.domain.reservation_patterns import (
    MAX_PATTERN_CHARS,
    PatternError,
    compile_pattern,
    is_resource,
    matches_path,
    normalize,
    normalize_path,
)


def pattern(raw: str) -> rp.Pattern:
    return compile_pattern(normalize(raw))


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("src/a.py", "src/a.py"),
        ("./src/a.py", "src/a.py"),
        ("/src/a.py", "src/a.py"),
        ("././/src//a.py", "src/a.py"),
        ("src\\a.py", "src/a.py"),
        (".\\src\\sub\\", "src/sub/"),
        ("src/./a.py", "src/a.py"),
        ("docs/", "docs/"),
        ("docs//", "docs/"),
        ("docs/.", "docs/"),
        ("  docs/a.md \u3000", "docs/a.md"),
        ("a***b", "a*b"),
        ("src/***", "src/*"),
        ("**/**/x", "**/x"),
        ("src/**/**/", "src/**/"),
        ("**", "**"),
        ("#notes.md", "#notes.md"),
        ("src/!keep", "src/!keep"),
        ("[]a]", "[]a]"),
        ("tool://lint", "tool://lint"),
        ("service://db//Primary\\x", "service://db//Primary\\x"),
        ("  tool://lint ", "tool://lint"),
        ("naïve/日本.md", "naïve/日本.md"),
        ("/ a b/ ", "a b/"),  # whitespace the separators expose is trimmed too
        ("x/ y ", "x/ y"),
    ],
)
def test_normalize(raw: str, normal: str) -> None:
    assert normalize(raw) == normal
    assert normalize(normal) == normal  # the normal form is a fixed point
    assert compile_pattern(normal).text == normal


REJECTIONS = [
    ("", "EMPTY_PATTERN"),
    ("   ", "EMPTY_PATTERN"),
    ("/", "EMPTY_PATTERN"),
    ("./", "EMPTY_PATTERN"),
    ("././/.", "EMPTY_PATTERN"),
    ("a" * (MAX_PATTERN_CHARS + 1), "PATTERN_TOO_LONG"),
    ("tool://" + "x" * MAX_PATTERN_CHARS, "PATTERN_TOO_LONG"),
    ("src/a\n.py", "CONTROL_CHARACTER"),
    ("src/a.py\x00", "CONTROL_CHARACTER"),
    ("\tsrc", "CONTROL_CHARACTER"),
    ("src/\x85", "CONTROL_CHARACTER"),
    ("a\u2028b", "CONTROL_CHARACTER"),
    ("tool://x\ny", "CONTROL_CHARACTER"),
    ("..", "PARENT_REFERENCE"),
    ("../secrets", "PARENT_REFERENCE"),
    ("src/../../etc/passwd", "PARENT_REFERENCE"),
    ("src\\..\\x", "PARENT_REFERENCE"),
    ("src/..", "PARENT_REFERENCE"),
    ("/ ../x", "PARENT_REFERENCE"),
    ("!src/a.py", "NEGATED_PATTERN"),
    ("./!a", "NEGATED_PATTERN"),
    ("/!a", "NEGATED_PATTERN"),
    ("src/[ab", "MALFORMED_PATTERN"),
    ("src/[", "MALFORMED_PATTERN"),
    ("[]", "MALFORMED_PATTERN"),
    ("[!]", "MALFORMED_PATTERN"),
    ("src/[a/b].py", "MALFORMED_PATTERN"),
    ("[z-a]", "MALFORMED_PATTERN"),
    ("[[:alpha:]]", "MALFORMED_PATTERN"),
    ("[a[b]", "MALFORMED_PATTERN"),
    ("[a-[]", "MALFORMED_PATTERN"),
    ("[a--z]", "MALFORMED_PATTERN"),
    ("[a&&b]", "MALFORMED_PATTERN"),
    ("[a||b]", "MALFORMED_PATTERN"),
    ("[a~~b]", "MALFORMED_PATTERN"),
    ("[! -\U0010ffff]", "MALFORMED_PATTERN"),
    ("tool://", "MALFORMED_PATTERN"),
    ("*/" * 32 + "?", "TOO_MANY_WILDCARDS"),
    ("[ab]" * 33, "TOO_MANY_WILDCARDS"),
]


@pytest.mark.parametrize(("raw", "reason"), REJECTIONS)
def test_rejections(raw: str, reason: str) -> None:
    with pytest.raises(PatternError) as caught:
        normalize(raw)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)
    # Messages quote at most a short part of the caller's text.
    assert 0 < len(caught.value.message) < 200, caught.value.message
    assert str(caught.value) == caught.value.message


def test_every_reason_is_tested() -> None:
    tested = {reason for _, reason in REJECTIONS} | {"NOT_NORMALIZED"}
    assert tested == rp.REASONS


def test_the_wildcard_limit_is_inclusive() -> None:
    assert normalize("[ab]" * rp.MAX_WILDCARDS)
    assert normalize("a/" * 200 + "b")  # literal segments are not wildcards


def test_one_character_sets_are_not_wildcards() -> None:
    assert normalize("[a]" * 40) == "[a]" * 40
    assert compile_pattern("[a][b]/x").root == "ab"


def test_compile_pattern_wants_the_normal_form() -> None:
    with pytest.raises(PatternError) as caught:
        compile_pattern("./src/a.py")
    assert caught.value.reason == "NOT_NORMALIZED"
    with pytest.raises(PatternError) as caught:
        compile_pattern("../x")
    assert caught.value.reason == "PARENT_REFERENCE"


def test_patterns_are_equal_by_text() -> None:
    assert pattern("./src/a.py") == pattern("src/a.py")
    assert pattern("src/a.py") != pattern("src/b.py")
    assert len({pattern("x"), pattern("/x"), pattern("tool://x")}) == 2


@pytest.mark.parametrize(
    ("text", "resource"),
    [
        ("tool://lint", True),
        ("service://db", True),
        ("git+ssh://host/repo", True),
        ("x-1.y://z", True),
        ("tool:/lint", False),
        ("1tool://x", False),
        ("src/tool://x", False),
        ("://x", False),
        ("c:\\x", False),
    ],
)
def test_is_resource(text: str, resource: bool) -> None:
    assert is_resource(text) is resource


def test_a_resource_is_kept_verbatim_and_is_not_a_path() -> None:
    compiled = pattern("tool://a/../b")
    assert compiled.resource and compiled.text == "tool://a/../b"
    assert compiled.root is None and compiled.regex is None


@pytest.mark.parametrize(
    ("raw", "root"),
    [
        ("src/a.py", "src"),
        ("src/**", "src"),
        ("src/", None),  # no slash but the trailing one: at any depth
        ("a.py", None),
        ("*/a.py", None),
        ("**/a.py", None),
        ("**", None),
        ("tool://x", None),
    ],
)
def test_root(raw: str, root: str | None) -> None:
    assert pattern(raw).root == root


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("./src/a.py", "src/a.py"),
        ("src\\a.py", "src/a.py"),
        ("/docs/", "docs"),
        ("a[1]*.txt", "a[1]*.txt"),
        ("tool://x//y", "tool://x//y"),
    ],
)
def test_normalize_path(raw: str, path: str) -> None:
    assert normalize_path(raw) == path


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "EMPTY_PATTERN"),
        ("./", "EMPTY_PATTERN"),
        ("a/../b", "PARENT_REFERENCE"),
        ("a\rb", "CONTROL_CHARACTER"),
        ("x" * 513, "PATTERN_TOO_LONG"),
    ],
)
def test_normalize_path_rejections(raw: str, reason: str) -> None:
    with pytest.raises(PatternError) as caught:
        normalize_path(raw)
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("raw", "path", "matched"),
    [
        ("src/a.py", "src/a.py", True),
        ("src/a.py", "src/a.py/x", True),  # a matched directory covers what is below it
        ("*.md", "src/a.py/x.md", True),  # a real path proves src/a.py a directory
        ("src/*", "src/sub/a.py", True),  # gitignore's reading, unlike overlaps()
        ("src/a.py", "src/a.pyc", False),
        ("src/a.py", "lib/src/a.py", False),  # anchored
        ("a.py", "lib/src/a.py", True),  # no slash: any depth
        ("src/a.py", "Src/a.py", False),  # case-sensitive
        ("docs", "docs", True),
        ("docs", "docs/a/b.md", True),
        ("docs/", "docs", True),  # the path may name the directory itself
        ("docs/", "docs/a.md", True),
        ("docs/", "x/docs/a.md", True),
        ("docs/", "docsx", False),
        ("docs/**", "docs", True),
        ("docs/**", "docs/a/b", True),
        ("docs/a.md", "docs", False),
        ("src/*", "src/a/b.py", True),
        ("src/*.py", "src/a/b.py", False),
        ("src/**/*.py", "src/a/b.py", True),
        ("src/**/*.py", "src/b.py", True),
        ("*.py", "a/b/c.py", True),
        ("**", "anything/at/all", True),
        ("**/", "a", True),
        ("#notes.md", "x/#notes.md", True),  # literal, not a comment
        ("src/?.py", "src/ab.py", False),
        ("src/[ab].py", "src/b.py", True),
        ("src/[!ab].py", "src/c.py", True),
        ("src/[!ab].py", "src/a.py", False),
        # A set never matches '/', negated or a range spanning it (pathspec alone would).
        ("d/a[!x]b", "d/a/b", False),
        ("d/a[+-0]b", "d/a/b", False),
        ("d/a[+-0]b", "d/a0b", True),
        ("d/a?b", "d/a/b", False),
        ("tool://x", "tool://x", True),
        ("tool://x", "tool://X", False),
        ("tool://x", "x", False),
        ("*", "tool://x", False),  # a path pattern never covers a resource
        ("**", "tool://x", False),
    ],
)
def test_matches_path(raw: str, path: str, matched: bool) -> None:
    assert matches_path(pattern(raw), path) is matched
