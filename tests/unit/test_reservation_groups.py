"""Stored pattern groups: what ReservePaths reads for a request is never less than what can
overlap it."""

from __future__ import annotations

import pytest
from agentmail_server.domain.reservations import groups_to_load, overlap, stored_group

PATTERNS = [
    "src/a.py",
    "src/",
    "src/**",
    "src/**/*.py",
    "lib/b.py",
    "docs/x/y.md",
    "*.py",
    "**/a.py",
    "s*/a.py",
    "README.md",
    "tool://db",
    "tool://db2",
    "service://db",
]


@pytest.mark.parametrize("held", PATTERNS)
@pytest.mark.parametrize("requested", PATTERNS)
def test_a_pattern_that_overlaps_is_in_a_group_the_check_reads(held: str, requested: str) -> None:
    groups = groups_to_load([requested])
    if overlap(requested, held):
        assert groups is None or stored_group(held) in groups


def test_groups() -> None:
    assert stored_group("src/a.py") == "src"
    assert stored_group("*.py") == stored_group("README.md") == stored_group("s*/a.py") == ""
    assert stored_group("tool://db") == "tool://db"
    assert groups_to_load(["src/a.py", "lib/**"]) == ["", "lib", "src"]
    assert groups_to_load(["src/a.py", "*.md"]) is None
