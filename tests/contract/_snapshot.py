"""Compare a rendered snapshot with its checked-in file; rewrite it only when asked, and fail then.

``AGENTMAIL_UPDATE_SNAPSHOTS=1 pytest tests/contract`` rewrites every snapshot that differs and
fails each of those tests with the diff, so that an update can never pass unnoticed (and a run
that forgot the variable set cannot turn a regression green). Run again without the variable,
then review the diff of the snapshot files like any other change.
"""

from __future__ import annotations

import difflib
import os
import pathlib

import pytest

UPDATE_ENV = "AGENTMAIL_UPDATE_SNAPSHOTS"


def _diff(recorded: str, current: str, name: str) -> str:
    return "".join(
        difflib.unified_diff(
            recorded.splitlines(keepends=True),
            current.splitlines(keepends=True),
            fromfile=f"{name} (recorded)",
            tofile=f"{name} (current)",
        )
    )


def assert_matches_snapshot(path: pathlib.Path, current: str, *, changed: str) -> None:
    """Fail unless ``current`` is the text of the snapshot at ``path``.

    ``changed`` says what a difference means and what to check before accepting it. With
    ``AGENTMAIL_UPDATE_SNAPSHOTS=1`` a differing (or missing) snapshot is rewritten and the test
    still fails, showing what was written.
    """
    recorded = path.read_text(encoding="utf-8") if path.exists() else None
    if current == recorded:
        return
    diff = _diff(recorded or "", current, path.name)
    if os.environ.get(UPDATE_ENV) == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current, encoding="utf-8")
        pytest.fail(
            f"rewrote {path} ({UPDATE_ENV}=1); review the change and run the tests again "
            f"without {UPDATE_ENV}:\n{diff}"
        )
    if recorded is None:
        pytest.fail(f"no snapshot {path} yet: write it with `{UPDATE_ENV}=1 pytest tests/contract`")
    pytest.fail(
        f"{changed} If that is intended, rewrite the snapshot with `{UPDATE_ENV}=1 pytest "
        f"tests/contract`, review it and run the tests again.\n{diff}"
    )
