"""The data folder lock: one agentmail process at a time owns a data folder.

Two servers on one database would each think they are its single writer, and an archive
rebuild beside a running server would race its archive worker. Whoever writes the data folder
first takes an exclusive ``flock`` on ``agentmail.lock`` in it. The lock belongs to the open
file, so the kernel releases it when the process dies, however it dies: a stale lock file
never blocks a restart. The holder's process id is written into the file for people to read.
"""

from __future__ import annotations

import fcntl
import os
import pathlib
from types import TracebackType
from typing import IO

LOCK_FILE = "agentmail.lock"


class DataFolderLock:
    """The exclusive lock on a data folder, held from :meth:`acquire` to :meth:`release`.

    Also a context manager that acquires on entry and releases on exit. Keep the object for
    as long as the lock must hold: the lock file closes, and the lock goes, with the object.

    Args:
        data_dir: the data folder; it must exist.
    """

    def __init__(self, data_dir: pathlib.Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / LOCK_FILE
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._file is not None

    def acquire(self) -> None:
        """Take the lock without waiting, and write this process's id into the lock file.

        Raises:
            RuntimeError: another process holds the lock, or this object already does.
        """
        if self._file is not None:
            raise RuntimeError(f"the lock on data folder {self.data_dir} is already held")
        # Append mode: opening must not truncate the pid of a holder we are about to fail on.
        file = open(self.path, "a+")  # noqa: SIM115 -- held open for as long as the lock
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.close()
            raise RuntimeError(
                f"data folder {self.data_dir} is in use by another agentmail server"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        self._file = file

    def release(self) -> None:
        """Give the lock up (nothing happens when it is not held)."""
        file, self._file = self._file, None
        if file is not None:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)
            file.close()

    def __enter__(self) -> DataFolderLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
