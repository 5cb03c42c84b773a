"""The data folder's lock: one agentmail process (server or archive tool) per folder.

Two servers on one database would each think they are the single writer, so whoever opens a
data folder for writing holds an exclusive ``flock`` on ``agentmail.lock`` in it first.
"""

from __future__ import annotations

import fcntl
import os
import pathlib
from typing import IO

LOCK_FILE_NAME = "agentmail.lock"


class DataFolderLock:
    """An exclusive, non-blocking lock on a data folder, released by :meth:`release`.

    The lock file holds the holder's process id, for an operator wondering who holds it.
    """

    def __init__(self, data_dir: pathlib.Path) -> None:
        self.path = data_dir / LOCK_FILE_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock (the folder must exist).

        Raises:
            RuntimeError: another process holds it.
        """
        lock_file = open(self.path, "a+")  # noqa: SIM115 - held open until release()
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise RuntimeError(
                f"data folder {self.path.parent} is in use by another agentmail server"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._file = lock_file

    def release(self) -> None:
        """Give the lock up (a no-op when not held)."""
        lock_file, self._file = self._file, None
        if lock_file is not None:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
            lock_file.close()
