"""The asynchronous full-text indexer: ``messages_fts`` follows ``messages`` in bulk.

Why not a trigger: an insert trigger adds one FTS5 segment per commit, and with small group
commits that costs 45-110 us a message; the same rows indexed a few hundred at a time cost
2.5-6 us each. So sends commit without touching the index, and the writer thread (the only
connection that may write) indexes ``id > last_indexed`` in transactions of its own, at most
:data:`STEP_ROWS` rows each, when (see :class:`~.writer.Writer`):

- the unindexed tail reaches :data:`EAGER_ROWS` (under load: one step per few batches),
- the writer has been idle for :data:`IDLE_SECONDS` (a trickle of sends gets indexed soon),
- a search is waiting for it (below), or the server is shutting down (the index is complete
  after a clean stop).

``last_indexed`` is the ``sequences`` row ``fts_indexed``, updated in the same transaction as
the index rows it covers: after a crash either both are there or neither is, and the next step
starts exactly after the last message indexed, so each message is indexed exactly once.

Search never sees the lag. Before its first query a search asks the writer to catch up with
the newest message committed *before the search was issued* and waits for that, at most
:data:`SEARCH_WAIT_SECONDS`: (a) in the issue's two options. Measured on the 2-core bench
machine, a search that finds the index current (the common case: idle indexing runs within
20 ms of the last send) pays one integer comparison; one that finds a tail waits one index step
(about 1-3 ms for a few hundred rows), which also indexes that tail for every later search.
Option (b), scanning the unindexed tail, would have to evaluate the FTS5 query language
(phrases, prefixes, NEAR, boolean operators, column filters) over raw rows in Python or in a
temporary index built per search: a second search engine that could disagree with the first,
for a tail that is usually empty. Index steps commit with ``synchronous = NORMAL``: WAL mode
keeps them atomic, and a lost step is only re-done (the next durable commit syncs it anyway).
"""

from __future__ import annotations

import sqlite3

# The sequences row holding the id of the newest message already in messages_fts.
STATE = "fts_indexed"
# Index at most this many messages per transaction, so a write arriving meanwhile waits for
# at most one step (a few ms).
STEP_ROWS = 2000
# Index as soon as this many messages wait, even while writes keep coming.
EAGER_ROWS = 256
# Index what waits once the writer has had nothing to do for this long.
IDLE_SECONDS = 0.02
# A search waits at most this long for the indexer before running on the index as it is.
SEARCH_WAIT_SECONDS = 5.0


def indexed(conn: sqlite3.Connection) -> int:
    """The id of the newest message in the index (0 before any)."""
    row = conn.execute("SELECT value FROM sequences WHERE name = ?", (STATE,)).fetchone()
    return int(row[0]) if row else 0


def newest(conn: sqlite3.Connection) -> int:
    """The id of the newest message stored (0 before any)."""
    return int(conn.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0])


def index_step(conn: sqlite3.Connection, after: int, rows: int = STEP_ROWS) -> int:
    """Index up to ``rows`` messages with ids past ``after`` in one transaction of their own;
    returns the new ``last_indexed`` (``after`` when nothing waited).

    Runs on the writer thread, between group commits (never inside one).
    """
    (upto,) = conn.execute(
        "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
        (after, rows),
    ).fetchone()
    if upto is None:
        return after
    (durable,) = conn.execute("PRAGMA synchronous").fetchone()
    if durable > 1:  # FULL or EXTRA: this commit need not wait for the disk (module docstring)
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "INSERT INTO messages_fts (rowid, subject, body)"
            " SELECT id, subject, body FROM messages WHERE id > ? AND id <= ? ORDER BY id",
            (after, upto),
        )
        conn.execute(
            "INSERT INTO sequences (name, value) VALUES (?, ?)"
            " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (STATE, upto),
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        if durable > 1:
            conn.execute(f"PRAGMA synchronous = {int(durable)}")
    return int(upto)
