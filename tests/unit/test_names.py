"""Agent-name rules and project slugs."""

from __future__ import annotations

import pytest
from agentmail_server.domain import names


@pytest.mark.parametrize("name", ["A", "BlueLake", "agent_7", "x-y", "a" * 64])
def test_valid_names(name: str) -> None:
    assert names.is_valid_agent_name(name)


@pytest.mark.parametrize("name", ["", "7up", "_x", "a b", "a" * 65, "naïve", "x\n"])
def test_invalid_names(name: str) -> None:
    assert not names.is_valid_agent_name(name)


def test_name_key_ignores_case() -> None:
    assert names.name_key("BlueLake") == names.name_key("bluelake") == names.name_key("BLUELAKE")


@pytest.mark.parametrize(
    ("human_key", "slug"),
    [
        ("/data/projects/backend", "data-projects-backend"),
        ("My Repo!", "my-repo"),
        ("///", "project"),
        ("x" * 100, "x" * 64),
    ],
)
def test_base_slug(human_key: str, slug: str) -> None:
    assert names.base_slug(human_key) == slug


def test_disambiguated_slug_is_stable_and_distinct() -> None:
    first = names.disambiguated_slug("/a/b")
    assert first == names.disambiguated_slug("/a/b")
    assert first != names.disambiguated_slug("/a-b")
    assert first.startswith("a-b-")
    assert len(names.disambiguated_slug("y" * 200)) <= names.MAX_SLUG_LENGTH
