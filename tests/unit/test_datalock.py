"""The data folder lock: one holder at a time, its pid in the file, gone with its process."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
from agentmail_server.datalock import DataFolderLock

HOLD = (
    "import pathlib, sys\n"
    "from agentmail_server.datalock import DataFolderLock\n"
    "lock = DataFolderLock(pathlib.Path(sys.argv[1]))\n"
    "lock.acquire()\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_second_holder_is_refused_until_the_first_releases(tmp_path: pathlib.Path) -> None:
    first, second = DataFolderLock(tmp_path), DataFolderLock(tmp_path)
    first.acquire()
    assert first.held
    assert (tmp_path / "agentmail.lock").read_text() == f"{os.getpid()}\n"
    with pytest.raises(RuntimeError, match="in use by another agentmail server"):
        second.acquire()
    assert not second.held
    assert (tmp_path / "agentmail.lock").read_text() == f"{os.getpid()}\n"  # left intact
    first.release()
    assert not first.held
    second.acquire()
    second.release()


def test_release_is_idempotent_and_acquire_twice_is_refused(tmp_path: pathlib.Path) -> None:
    lock = DataFolderLock(tmp_path)
    lock.release()
    with lock:
        with pytest.raises(RuntimeError, match="already held"):
            lock.acquire()
        assert lock.held
    assert not lock.held
    lock.release()


def test_the_lock_dies_with_its_process(tmp_path: pathlib.Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        assert (tmp_path / "agentmail.lock").read_text() == f"{holder.pid}\n"
        with pytest.raises(RuntimeError, match="in use"):
            DataFolderLock(tmp_path).acquire()
    finally:
        holder.kill()
        holder.communicate()
    with DataFolderLock(tmp_path) as lock:
        assert lock.held
