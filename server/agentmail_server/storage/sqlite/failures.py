"""What a failed group commit means, and whether the database can take writes again.

A commit that fails as a whole (not one operation's own error) is classified into one of three
stable reasons, each sent as ``Unavailable`` with a retry delay:

* ``STORAGE_FULL``: the filesystem (or SQLite's page limit) is full (``SQLITE_FULL``);
* ``STORAGE_READ_ONLY``: the database or its filesystem became read-only (``SQLITE_READONLY``,
  or any error while the filesystem reports itself read-only);
* ``STORAGE_UNAVAILABLE``: any other I/O failure.

While writes fail the writer probes with :func:`probe` until one succeeds: these functions run
on the writer thread (they block on the filesystem).
"""

from __future__ import annotations

import os
import pathlib
import sqlite3

from agentmail_server.errors import Unavailable

STORAGE_FULL = "STORAGE_FULL"
STORAGE_READ_ONLY = "STORAGE_READ_ONLY"
STORAGE_UNAVAILABLE = "STORAGE_UNAVAILABLE"

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_READONLY = 8
_SQLITE_FULL = 13

# Free space below which a full filesystem is not considered back: a probe's page or two would
# fit, but the next real batch (a WAL frame per changed page) would fail again at once.
MIN_FREE_BYTES = 1 << 20

# How long callers are asked to wait: a full or read-only disk needs someone to act, while
# other I/O errors are often transient.
RETRY_SECONDS = {STORAGE_FULL: 5.0, STORAGE_READ_ONLY: 5.0, STORAGE_UNAVAILABLE: 1.0}

_MESSAGES = {
    STORAGE_FULL: "the database's disk is full; writes resume by themselves once space is freed",
    STORAGE_READ_ONLY: "the database is read-only; writes resume once it is writable again",
    STORAGE_UNAVAILABLE: "the database could not commit",
}


def read_only(path: pathlib.Path) -> bool:
    """Whether the filesystem holding ``path`` is mounted read-only."""
    try:
        return bool(os.statvfs(path.parent).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def classify(exc: BaseException, path: pathlib.Path) -> Unavailable:
    """The error every operation of a batch that could not commit because of ``exc`` gets."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary == _SQLITE_READONLY or read_only(path):
        reason = STORAGE_READ_ONLY
    elif primary == _SQLITE_FULL:
        reason = STORAGE_FULL
    else:
        reason = STORAGE_UNAVAILABLE
    return Unavailable(
        reason,
        f"{_MESSAGES[reason]} ({exc})",
        retry_after_seconds=RETRY_SECONDS[reason],
    )


def space_returned(path: pathlib.Path) -> bool:
    """Whether the filesystem of ``path`` is writable with at least ``MIN_FREE_BYTES`` free."""
    try:
        stats = os.statvfs(path.parent)
    except OSError:
        return True  # cannot tell: let the probe write decide
    return not stats.f_flag & os.ST_RDONLY and stats.f_bavail * stats.f_frsize >= MIN_FREE_BYTES


def probe(conn: sqlite3.Connection) -> None:
    """A write operation that changes nothing but still writes a page: it rewrites the
    schema version (page 1 of the database) with its own value."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    conn.execute(f"PRAGMA user_version = {version}")
