"""The .proto contract passes ``buf lint`` (STANDARD rules) and is ``buf format``-clean."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _buf() -> str:
    """Return the path of ``buf``; skip without it, unless CI demands every tool."""
    path = shutil.which("buf")
    if path is None:
        message = (
            "buf is not on PATH; install it with "
            "`npm install --no-save --prefix .ci/.tools @bufbuild/buf` "
            "and put .ci/.tools/node_modules/.bin on PATH"
        )
        if os.environ.get("AGENTMAIL_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run_buf(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_buf(), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_protos_pass_buf_lint() -> None:
    result = _run_buf("lint", "protos")
    assert result.returncode == 0, f"buf lint protos:\n{result.stdout}{result.stderr}"


def test_protos_are_buf_formatted() -> None:
    result = _run_buf("format", "protos", "--diff", "--exit-code")
    assert result.returncode == 0, (
        f"protos are not formatted; run `buf format protos -w`:\n{result.stdout}{result.stderr}"
    )
