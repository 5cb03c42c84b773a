"""The code base is ruff-clean, ruff-formatted and passes strict mypy (settings in pyproject)."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# mypy's strictness and search paths come from [tool.mypy] in pyproject.toml.
MYPY_TARGETS = ("server", "clients/agentmail_client")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m ARGS`` with this interpreter, from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "fix"),
    [
        pytest.param(("ruff", "check", "."), "ruff check --fix .", id="ruff-check"),
        pytest.param(("ruff", "format", "--check", "."), "ruff format .", id="ruff-format"),
        pytest.param(
            ("mypy", *MYPY_TARGETS),
            "fix the reported types",
            id="mypy-strict",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_tool_is_clean(args: tuple[str, ...], fix: str, mypy_cache_lock: None) -> None:
    result = _run(*args)
    assert result.returncode == 0, (
        f"`{' '.join(args)}` failed ({fix}):\n{result.stdout}{result.stderr}"
    )
