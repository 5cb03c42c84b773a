"""Opening SQLite connections with the pragmas each role needs."""

from __future__ import annotations

import pathlib
import sqlite3

from agentmail_server.config import SyncMode

# How long a connection waits on a lock before failing; only start-up can contend for it,
# since one writer owns all writes.
_BUSY_TIMEOUT_MS = 5000


def open_writer(path: pathlib.Path, synchronous: SyncMode) -> sqlite3.Connection:
    """The one read-write connection. Autocommit mode: the writer issues BEGIN/COMMIT itself."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise RuntimeError(f"could not put {path} in WAL mode (got {mode})")
    conn.execute(f"PRAGMA synchronous = {synchronous.upper()}")
    conn.execute("PRAGMA foreign_keys = ON")
    # Bigger pages cache and WAL checkpoints off the commit path as far as SQLite allows.
    conn.execute("PRAGMA cache_size = -65536")
    conn.execute("PRAGMA wal_autocheckpoint = 4000")
    return conn


def reader_uri(path: pathlib.Path) -> str:
    """URI opening the database read-only, so a reader can never take the write lock."""
    return f"{path.resolve().as_uri()}?mode=ro"


READER_PRAGMAS = (
    f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}",
    "PRAGMA query_only = ON",
    "PRAGMA cache_size = -16384",
)
