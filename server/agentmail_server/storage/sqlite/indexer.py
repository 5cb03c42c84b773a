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
:data:`SEARCH_WAIT_SECONDS`: (a) in the issue's two options. A search that finds the index
current (the common case: idle indexing runs within 20 ms of the last send) pays one integer
comparison; one that finds a tail waits one index step, which also indexes that tail for every
later search: at the 2.5-6 us a row measured for bulk indexing, about 0.6-1.5 ms for the
:data:`EAGER_ROWS` a tail holds at most under load (an estimate from that figure, not a timing
of the wait itself).
Option (b), scanning the unindexed tail, would have to evaluate the FTS5 query language
(phrases, prefixes, NEAR, boolean operators, column filters) over raw rows in Python or in a
temporary index built per search: a second search engine that could disagree with the first,
for a tail that is usually empty. Index steps commit with ``synchronous = NORMAL``: WAL mode
keeps them atomic, and a lost step is only re-done (the next durable commit syncs it anyway).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable

logger = logging.getLogger(__name__)

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


class Follower:
    """Where the index stands against the messages, and the searches waiting for it.

    The positions are written on the writer thread (after each commit and index step) and
    read on the event loop; each is one int, replaced whole. Waiters live on the loop only.
    """

    def __init__(self) -> None:
        self.indexed = 0
        self.newest = 0
        self._failed = False
        # (message id the search needs, its future): at most one per search in flight.
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []

    @property
    def waiting(self) -> bool:
        """Whether a search waits (the writer then indexes before its next batch ends)."""
        return bool(self._waiters)

    def due(self) -> bool:
        """Whether enough messages wait to index them now, whatever else is queued."""
        return self.newest - self.indexed >= EAGER_ROWS

    # On the writer thread.

    def load(self, conn: sqlite3.Connection) -> None:
        """Read both positions (at start-up, after migrating)."""
        self.indexed = indexed(conn)
        self.newest = newest(conn)

    def committed(self, conn: sqlite3.Connection) -> None:
        """Note the newest message after a commit, before its callers hear of it."""
        self.newest = newest(conn)

    def catch_up(self, conn: sqlite3.Connection, *, everything: bool) -> None:
        """One index step, or (``everything``) steps until the index is current. Never
        raises: a failure (disk full, say) is logged and leaves the tail for later."""
        try:
            while self.indexed < self.newest:
                reached = index_step(conn, self.indexed)
                if reached == self.indexed:  # retention purged the rest: nothing to index
                    self.newest = reached
                self.indexed = reached
                if not everything:
                    break
            self._failed = False
        except Exception as exc:  # the writer goes on; searches run on what is indexed
            logger.warning("full-text indexing failed: %s", exc)
            self._failed = True

    # On the event loop.

    async def wait(self, kick: Callable[[], None], wait_seconds: float) -> bool:
        """Wait until every message committed before this call is indexed (``kick`` wakes
        the writer), at most ``wait_seconds``; True when it is."""
        target = self.newest
        if self.indexed >= target:
            return True
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiters.append((target, future))
        kick()
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_seconds)
        except TimeoutError:
            logger.warning("a search ran %d messages behind the index", target - self.indexed)
            return False

    def release(self, *, closing: bool = False) -> None:
        """Wake the searches the index now covers (all of them after a failure or on close,
        which then run on the index as it is)."""
        give_up = closing or self._failed
        waiting: list[tuple[int, asyncio.Future[bool]]] = []
        for target, future in self._waiters:
            if give_up or target <= self.indexed:
                if not future.done():
                    future.set_result(target <= self.indexed)
            else:
                waiting.append((target, future))
        self._waiters = waiting
