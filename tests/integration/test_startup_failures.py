"""A server that cannot start says why in one line, without a traceback, and exits non-zero
promptly; every console command answers --version."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import socket
import sqlite3
import sys
import tomllib
from collections.abc import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Generous for a loaded machine; a server that hangs instead of exiting fails here.
EXIT_DEADLINE_SECONDS = 60
EXIT_START_FAILED = 1
EXIT_BAD_FLAG = 2  # argparse's status for a bad flag value


@contextlib.contextmanager
def taken_port() -> Iterator[int]:
    """A port on 127.0.0.1 held by a listening socket for the duration."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


async def run_server(data_dir: pathlib.Path, *flags: str) -> tuple[int, list[str]]:
    """Run ``python -m agentmail_server`` to its end; returns its exit status and stderr lines.

    Fails if it is still running after the deadline (it should have given up).
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "off",
        "--data-dir",
        str(data_dir),
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), EXIT_DEADLINE_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode(errors="replace").splitlines()


def assert_one_clear_line(lines: list[str], *, says: str) -> None:
    """No traceback, and exactly one line giving the cause (the last one)."""
    text = "\n".join(lines)
    assert "Traceback" not in text, text
    assert lines and says in lines[-1], text
    assert sum(says in line for line in lines) == 1, text


async def test_a_taken_grpc_port(tmp_path):
    with taken_port() as port:
        code, lines = await run_server(tmp_path / "data", "--listen", f"127.0.0.1:{port}")

    assert code == EXIT_START_FAILED
    assert_one_clear_line(lines, says=f"could not listen on 127.0.0.1:{port}")


async def test_a_taken_metrics_port(tmp_path):
    with taken_port() as port:
        code, lines = await run_server(tmp_path / "data", "--metrics-listen", f"127.0.0.1:{port}")

    assert code == EXIT_START_FAILED
    assert_one_clear_line(lines, says=f"could not bind 127.0.0.1:{port}")


async def test_a_data_folder_that_cannot_be_made(tmp_path):
    # Under a regular file: fails for root too, unlike a folder without write permission.
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")

    code, lines = await run_server(blocker / "data")

    assert code == EXIT_START_FAILED
    assert_one_clear_line(lines, says=f"could not start: Not a directory: {blocker / 'data'}")


async def test_a_data_folder_in_use_by_another_server(tmp_path, spawn_server):
    async with spawn_server(tmp_path / "data"):
        code, lines = await run_server(tmp_path / "data")

    assert code == EXIT_START_FAILED
    assert_one_clear_line(lines, says="is in use by another agentmail server")


async def test_a_database_from_a_newer_schema(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with contextlib.closing(sqlite3.connect(data_dir / "agentmail.sqlite3")) as db:
        db.execute("PRAGMA user_version = 999")

    code, lines = await run_server(data_dir)

    assert code == EXIT_START_FAILED
    assert_one_clear_line(lines, says="database schema version 999 is newer than this server's")


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--log-level", "LOUD", "log_level must be one of DEBUG, INFO, WARNING"),
        ("--access-log", "sometimes", "--access-log: not a boolean: 'sometimes'"),
        ("--grace-seconds", "soon", "--grace-seconds: could not convert string to float"),
    ],
)
async def test_a_bad_flag_value(tmp_path, flag, value, says):
    code, lines = await run_server(tmp_path / "data", flag, value)

    assert code == EXIT_BAD_FLAG
    assert_one_clear_line(lines, says=says)
    assert lines[-1].startswith("agentmail-server: error: ")
    assert not (tmp_path / "data").exists()  # nothing was started


# Every console command the package installs, so a new one is covered without a test change.
CONSOLE_COMMANDS = sorted(
    tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
)


@pytest.mark.parametrize("command", CONSOLE_COMMANDS)
async def test_every_console_command_prints_its_version(command):
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    script = pathlib.Path(sys.executable).parent / command
    process = await asyncio.create_subprocess_exec(
        script,
        "--version",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "AGENTMAIL_METRICS_LISTEN": "off"},
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), EXIT_DEADLINE_SECONDS)

    assert (process.returncode, stdout.decode(), stderr) == (0, f"agentmail {version}\n", b"")
