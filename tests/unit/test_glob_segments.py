"""One segment's glob: its parse agrees with pathspec's reading, and two segments' common name."""

from __future__ import annotations

import re

import pytest
from agentmail_server.domain.glob_segments import (
    GlobSyntaxError,
    Segment,
    common_name,
    example_name,
    names_intersect,
    parse_segment,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern


def matches(segment: Segment, name: str) -> bool:
    if segment.literal is not None:
        return name == segment.literal
    assert segment.regex is not None
    return segment.regex.fullmatch(name) is not None


SOME = "<some name>"  # any common name will do


@pytest.mark.parametrize(
    ("left", "right", "common"),
    [
        ("a", "a", "a"),
        ("a", "b", None),
        ("[a]", "a", "a"),
        ("*", "*", "a"),  # a name is never empty
        ("*", "x", "x"),
        ("*.py", "*.py", ".py"),
        ("a*", "*b", "ab"),
        ("a*", "b*", None),
        ("?", "??", None),
        ("[!a]", "[!b]", "c"),
        ("[!a-z]", "[a-z]", None),
        ("[a-c]x*", "*[c-e]x", "cx"),
        ("*a*b*", "*b*a*", SOME),
        ("[]]", "]", "]"),
        ("[!]]", "]", None),
        ("x[^y]", "xy", None),
    ],
)
def test_common_name(left: str, right: str, common: str | None) -> None:
    a, b = parse_segment(left), parse_segment(right)
    for first, second in ((a, b), (b, a)):
        name = common_name(first, second)
        assert names_intersect(first, second) is (common is not None)
        if common is None:
            assert name is None
        else:
            assert name is not None and matches(first, name) and matches(second, name)
    if common not in (None, SOME):
        assert common_name(a, b) == common


@pytest.mark.parametrize("text", ["*", "a*b", "[!a]?", "[a-c]*[x]", "x"])
def test_example_name_matches(text: str) -> None:
    segment = parse_segment(text)
    name = example_name(segment)
    assert name and "/" not in name and matches(segment, name)


def test_parse_marks_literals_and_counts_wildcards() -> None:
    assert parse_segment("[a]bc").literal == "abc"
    assert parse_segment("a*b?[cd]").wildcards == 3
    assert parse_segment("**").recursive and parse_segment("**").wildcards == 1
    assert parse_segment("a**b").tokens == parse_segment("a*b").tokens


@pytest.mark.parametrize("text", ["[", "a[b", "[]", "[!]", "[z-a]", "[[:x:]]", "[a--b]"])
def test_parse_rejects(text: str) -> None:
    with pytest.raises(GlobSyntaxError):
        parse_segment(text)


GLOB_CHARS = "ab-]![^*?"
NAME_CHARS = "ab-]!^/"


@settings(max_examples=400, deadline=None)
@given(
    glob=st.text(alphabet=GLOB_CHARS, min_size=1, max_size=8),
    names=st.lists(st.text(alphabet=NAME_CHARS, min_size=1, max_size=5), max_size=8),
)
def test_a_segment_reads_its_glob_as_pathspec_does(glob: str, names: list[str]) -> None:
    """Sets, negations, ']' first and '-' placement mean the same to both; no set and no
    wildcard ever takes a '/' (pathspec's own ``[^x]`` would: reservation_patterns guards it)."""
    try:
        segment = parse_segment(glob)
    except GlobSyntaxError:
        return
    assume(not glob.startswith("!") and not segment.recursive)
    spec = GitIgnoreSpecPattern("d/" + glob)
    assert spec.regex is not None
    anchored = re.compile(spec.regex.pattern + "$")
    for name in names:
        expected = "/" not in name and anchored.match("d/" + name) is not None
        assert matches(segment, name) is expected, (glob, name)


@settings(max_examples=300, deadline=None)
@given(
    left=st.text(alphabet=GLOB_CHARS, min_size=1, max_size=7),
    right=st.text(alphabet=GLOB_CHARS, min_size=1, max_size=7),
    names=st.lists(st.text(alphabet="ab-]!^", min_size=1, max_size=5), max_size=10),
)
def test_common_name_is_exact(left: str, right: str, names: list[str]) -> None:
    try:
        a, b = parse_segment(left), parse_segment(right)
    except GlobSyntaxError:
        return
    assume(not a.recursive and not b.recursive)
    found = common_name(a, b)
    assert (found is not None) is names_intersect(a, b) is names_intersect(b, a)
    if found is not None:
        assert matches(a, found) and matches(b, found)
    if any(matches(a, name) and matches(b, name) for name in names):
        assert found is not None
