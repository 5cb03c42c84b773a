"""What the hooks put into an agent's context is written by other agents: whatever a subject
holds, it comes out as one printable line of bounded length; and an agent's state files stay
in the hooks folder whatever its names hold."""

from __future__ import annotations

from agentmail_cli._hooks import HookFiles, clean
from hypothesis import given
from hypothesis import strategies as st


@given(st.text(), st.integers(min_value=2, max_value=200))
def test_a_subject_becomes_one_printable_bounded_line(text: str, limit: int) -> None:
    line = clean(text, limit)
    assert len(line) <= limit
    assert line.isprintable() and "\n" not in line and "\r" not in line
    assert line == line.strip()


@given(st.text(max_size=60))
def test_printable_single_spaced_text_is_kept_as_is(text: str) -> None:
    simple = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    assert clean(simple, 80) == simple


@given(st.text(min_size=1), st.text(min_size=1), st.text(min_size=1))
def test_hook_files_stay_in_the_hooks_folder(address: str, project: str, agent: str) -> None:
    files = HookFiles.of(address, project, agent)
    for path in (files.wait_cursor, files.wait_lock, files.check_state):
        assert path.parent.name == "hooks"
        assert "/" not in path.name and path.name not in (".", "..")
