"""Profiles written to the config file read back as written, whatever their names hold."""

from __future__ import annotations

import tomllib

from agentmail_cli._settings import quote
from hypothesis import given
from hypothesis import strategies as st


@given(st.text())
def test_a_quoted_value_reads_back_unchanged(value: str) -> None:
    assert tomllib.loads(f"key = {quote(value)}")["key"] == value


@given(st.text(min_size=1), st.text())
def test_a_profile_table_reads_back_unchanged(name: str, agent: str) -> None:
    text = f"[profiles.{quote(name)}]\nagent = {quote(agent)}\n"
    assert tomllib.loads(text) == {"profiles": {name: {"agent": agent}}}
