"""One ``agentmail hook wait`` per agent: a newer wait takes over from an older one.

A harness starts the wake-up hook after every turn (Claude Code's ``Stop`` event), so a wait
left from an earlier turn (the user typed before any mail came) may still be running when the
next one starts. Two waiters on one cursor would wake the agent twice for the same message, and
left alone they pile up. The newest wins, because it belongs to the current turn and has its
whole timeout ahead: it holds an exclusive ``flock`` on a lock file beside the cursor, with its
PID written inside. A newer wait that finds the lock held sends that PID SIGTERM (only while it
holds the lock, and only a process whose command line names agentmail), and takes the lock as
soon as the older wait lets go; the older one exits 0 without a word. An older wait that was
already reporting mail finishes first: it saves its cursor before it lets go, so the newer one
starts after what it reported.

Where ``fcntl`` does not exist (Windows) there is no lock and no takeover.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import time
from collections.abc import Iterator

from ._exits import CliError, ExitCode

# How long a newer wait gives an older one to stop: it only has to leave its event loop.
TAKEOVER_SECONDS = 10.0
# Between two attempts to take the lock while the older wait stops (a few at most).
_RETRY_SECONDS = 0.01


def _try_lock(fd: int) -> bool:
    import fcntl  # noqa: PLC0415 - POSIX only, see the module doc

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder(fd: int) -> int | None:
    """The PID the holder wrote, if it is an agentmail process still running."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    if not text.isdigit() or int(text) == os.getpid():
        return None
    pid = int(text)
    cmdline = pathlib.Path(f"/proc/{pid}/cmdline")
    try:
        # Where /proc exists, make sure a recycled PID is not some other program's.
        if cmdline.parent.parent.is_dir() and b"agentmail" not in cmdline.read_bytes():
            return None
    except OSError:
        return None
    return pid


def _ask_to_stop(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)


@contextlib.contextmanager
def single_waiter(path: pathlib.Path) -> Iterator[None]:
    """Holds the wait lock of one agent (``path``) for the block, taking it over from an older
    wait if one holds it.

    Raises:
        CliError: The older wait did not stop within :data:`TAKEOVER_SECONDS` (exit 1).
    """
    try:
        import fcntl  # noqa: F401, PLC0415
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        asked: set[int] = set()
        deadline = time.monotonic() + TAKEOVER_SECONDS
        while not _try_lock(fd):
            pid = _holder(fd)
            if pid is not None and pid not in asked:
                asked.add(pid)
                _ask_to_stop(pid)
            if time.monotonic() > deadline:
                raise CliError(
                    f"another `agentmail hook wait` for this agent (lock {path}) did not stop",
                    ExitCode.FAILURE,
                    reason="WAIT_LOCKED",
                )
            # The holder is leaving its event loop; the lock is free within milliseconds.
            time.sleep(_RETRY_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            # A PID left behind could be recycled: the next wait must find no one to stop.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)
