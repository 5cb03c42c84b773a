"""Retention on PostgreSQL: purging the oldest mail in bounded batches, and counting what
would go — the SQLite backend's semantics (:mod:`agentmail_server.storage.sqlite.retention`).

Which messages go: the longest run of the oldest messages (in id order) created before the
cutoff. Ids are positions, assigned in commit order across every process (:mod:`.schema`), and
a send's creation time is taken before it queues for its writer, so walking ids and stopping at
the first message young enough never removes a message newer than the cutoff; at worst one
just older waits for the next run. No transaction can still commit an id below one already
visible, so the run is a contiguous id range and every delete is a range seek: deliveries and
idempotency keys by their ``message_id`` indexes, messages by primary key (the search vector is
a column of the row). Ids are never handed out again: the ``positions`` counter only grows, so
unlike SQLite nothing needs recording before the newest message goes.

Each batch is its own short transaction on the purge's own connection, not an operation of the
writer's group commit: it takes no ``positions`` row lock, so senders in this process and in
every other are not held behind it; they meet it only on the rows it deletes (an old
delivery being acknowledged at that moment waits for the batch's commit).

Several processes on one database: each batch first takes
``pg_try_advisory_xact_lock(RETENTION_LOCK)``. Without it, two processes purging at once would
walk the same oldest run, the second waiting on the first's row locks for its whole batch and
then deleting (and reporting) nothing. With it, a process that finds the lock taken ends its
run at once (another process is purging the same mail; the next run goes on); being a
transaction lock it is released by the batch's commit or rollback, so a process dying mid-batch
never leaves it held, and no session connection has to be kept alive for it.

A batch waits at most :data:`LOCK_TIMEOUT` for a row another transaction holds (a writer
acknowledging old mail). Should the two ever wait on each other, the purge's timeout ends it
before PostgreSQL's deadlock check (``deadlock_timeout``, 1 s by default) could pick the
writer's transaction as the victim and fail the sends batched with it; the purge is rolled back
whole and its run goes on at the next interval.
"""

from __future__ import annotations

import asyncio
import logging

import psycopg

from agentmail_server.domain.retention import Purged
from agentmail_server.storage.postgres.connection import Conn, connect, unavailable

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key of purge batches ("retain" in ASCII); not MIGRATION_LOCK.
RETENTION_LOCK = 0x72657461696E

# How long a batch waits for a row lock before it gives up (under deadlock_timeout's 1 s).
LOCK_TIMEOUT = "500ms"
# The batch's row-lock bound, then the purge lock: one round trip.
_BEGIN_BATCH = "SELECT set_config('lock_timeout', %s, true), pg_try_advisory_xact_lock(%s)"

# (count, first id, last id) of the oldest run created before %(before)s, at most %(limit)s
# long. The running bool_or marks every message from the first young one on; the head is read
# in id order from the primary key and never past ``limit`` rows.
_OLD_RUN = """
SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM (
    SELECT id, bool_or(created_at >= %(before)s) OVER (ORDER BY id) AS young_seen
    FROM (SELECT id, created_at FROM messages ORDER BY id LIMIT %(limit)s) AS head
) AS run
WHERE NOT young_seen
"""
# The same run without a limit, for counting: every message before the first young one (the
# primary key is walked in id order up to it; the young messages after it are never read).
_WHOLE_OLD_RUN = """
SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0) FROM messages
WHERE id < coalesce(
    (SELECT id FROM messages WHERE created_at >= %(before)s ORDER BY id LIMIT 1),
    1::bigint << 62
)
"""
# Old notices positioned before the oldest message that stays.
_OLD_NOTICES = (
    "position < coalesce((SELECT min(id) FROM messages WHERE id > %s), 1::bigint << 62)"
    " AND created_at < %s"
)
_PURGE_NOTICES = (
    "DELETE FROM notices WHERE position"
    " < coalesce((SELECT min(id) FROM messages), 1::bigint << 62) AND created_at < %s"
)


async def _old_range(conn: Conn, before: int, limit: int | None) -> tuple[int, int, int]:
    """(count, first id, last id) of the oldest run (``limit`` None: all of it)."""
    sql = _OLD_RUN if limit is not None else _WHOLE_OLD_RUN
    cursor = await conn.execute(sql.encode(), {"before": before, "limit": limit})
    row = await cursor.fetchone()
    assert row is not None  # an aggregate always returns a row
    return int(row[0]), int(row[1]), int(row[2])


async def _deleted(conn: Conn, sql: str, params: tuple[int, ...]) -> int:
    cursor = await conn.execute(sql.encode(), params)
    return max(cursor.rowcount, 0)


async def purge_batch(conn: Conn, before: int, limit: int) -> Purged | None:
    """Delete up to ``limit`` of the oldest messages created before ``before`` (microseconds),
    with their deliveries, idempotency keys, search entries and the old notices around them,
    in one transaction of their own on ``conn`` (an autocommit connection).

    Returns None, purging nothing, when another process holds the purge lock.

    Raises:
        psycopg.Error: the database failed, or a row stayed locked past
            :data:`LOCK_TIMEOUT`; the batch is rolled back whole.
    """
    async with conn.transaction():
        cursor = await conn.execute(_BEGIN_BATCH.encode(), (LOCK_TIMEOUT, RETENTION_LOCK))
        locked = await cursor.fetchone()
        if locked is None or not locked[1]:
            return None
        count, first, last = await _old_range(conn, before, limit)
        if count == 0:
            return Purged()
        span = (first, last)
        deliveries = await _deleted(
            conn, "DELETE FROM deliveries WHERE message_id BETWEEN %s AND %s", span
        )
        keys = await _deleted(
            conn, "DELETE FROM idempotency_keys WHERE message_id BETWEEN %s AND %s", span
        )
        # What this transaction deleted, not what it found: exact even beside a purge that
        # did not take the lock (an older server, an operator's own DELETE).
        messages = await _deleted(conn, "DELETE FROM messages WHERE id BETWEEN %s AND %s", span)
        # Notices go with the mail around them: the old enough ones positioned before the
        # oldest message left. One positioned after a message that stays waits for it, so the
        # oldest message left still bounds what a cursor can skip.
        notices = await _deleted(conn, _PURGE_NOTICES, (before,))
    return Purged(
        messages=messages,
        deliveries=deliveries,
        idempotency_keys=keys,
        notices=notices,
        first_id=first,
        last_id=last,
        more=count == limit,
    )


async def count_purgeable(conn: Conn, before: int) -> Purged:
    """What purging everything created before ``before`` would remove now, read in one
    REPEATABLE READ snapshot (reads only)."""
    async with conn.transaction():
        await conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        count, first, last = await _old_range(conn, before, None)
        if count == 0:
            return Purged()
        span = (first, last)
        counts = []
        for sql, params in (
            ("SELECT count(*) FROM deliveries WHERE message_id BETWEEN %s AND %s", span),
            ("SELECT count(*) FROM idempotency_keys WHERE message_id BETWEEN %s AND %s", span),
            (f"SELECT count(*) FROM notices WHERE {_OLD_NOTICES}", (last, before)),
        ):
            cursor = await conn.execute(sql.encode(), params)
            row = await cursor.fetchone()
            counts.append(int(row[0]) if row is not None else 0)
    deliveries, keys, notices = counts
    return Purged(count, deliveries, keys, first, last, more=False, notices=notices)


class PgRetentionWrites:
    """Purges on a connection of their own, opened at the first purge (none unless retention is
    on), reopened after a failure.

    Args:
        url: the database URL (never logged).
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: Conn | None = None
        # One batch at a time on the connection (the background run and a direct caller).
        self._lock = asyncio.Lock()

    async def purge_messages(self, before: int, limit: int) -> Purged:
        """Remove up to ``limit`` of the oldest messages created before ``before`` (see
        :func:`purge_batch`); nothing is published on the feed. While another process purges,
        nothing (``more`` false: this run ends, that one purges the same mail).

        Raises:
            Unavailable: the database cannot be reached or failed the batch (rolled back).
        """
        async with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await connect(self._url)
                purged = await purge_batch(self._conn, before, limit)
            except (psycopg.Error, RuntimeError) as exc:
                logger.warning("retention purge batch failed: %s", type(exc).__name__)
                await self.close()
                raise unavailable(exc) from None
        return Purged() if purged is None else purged

    async def close(self) -> None:
        """Close the connection, if open."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()
