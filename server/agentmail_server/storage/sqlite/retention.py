"""Retention: purging the oldest mail in bounded batches, and counting what would go.

Which messages go: the longest run of the oldest messages (in id order) created before the
cutoff. Ids follow commit order and creation times follow ids closely but not exactly (a send's
time is taken before it queues for the writer), so walking ids and stopping at the first
message that is young enough never removes a message newer than the cutoff; at worst one just
older waits for the next run. The run is a contiguous id range, so every delete below is a
range seek: messages by primary key (the FTS index follows by trigger), deliveries by their
``(agent_id, message_id)`` key for each agent, idempotency keys by their message index.
"""

from __future__ import annotations

import sqlite3

from agentmail_server.domain.retention import Purged

_OLDEST = "SELECT id, created_at FROM messages ORDER BY id LIMIT ?"
# Old notices positioned before the oldest message that stays (or ``?`` in a dry run).
_OLD_NOTICES = (
    "position < coalesce((SELECT min(id) FROM messages WHERE id > ?), 1 << 62) AND created_at < ?"
)
_PURGE_NOTICES = (
    "DELETE FROM notices WHERE position"
    " < coalesce((SELECT min(id) FROM messages), 1 << 62) AND created_at < ?"
)
_DELIVERIES_WHERE = "agent_id IN (SELECT id FROM agents) AND message_id BETWEEN ? AND ?"


def _old_range(conn: sqlite3.Connection, before: int, limit: int) -> tuple[int, int, int]:
    """(count, first id, last id) of the oldest run created before ``before``, at most
    ``limit`` long (negative: no limit)."""
    count = first = last = 0
    cursor = conn.execute(_OLDEST, (limit,))
    try:
        for message_id, created_at in cursor:
            if created_at >= before:
                break
            count += 1
            first = first or message_id
            last = message_id
    finally:
        cursor.close()  # rows past the first young message are never read
    return count, first, last


def purge_batch(conn: sqlite3.Connection, before: int, limit: int) -> Purged:
    """Delete up to ``limit`` of the oldest messages created before ``before`` (microseconds),
    with their deliveries, idempotency keys and search index entries.

    Runs inside the writer's transaction. The highest message id yet assigned is recorded in
    ``sequences`` first, so the next id stays past it even when the newest message goes.
    """
    count, first, last = _old_range(conn, before, limit)
    if count == 0:
        return Purged()
    conn.execute(
        "INSERT INTO sequences (name, value) SELECT 'messages', max("
        "(SELECT coalesce(max(id), 0) FROM messages),"
        " (SELECT coalesce(max(position), 0) FROM notices))"
        " WHERE true ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)"
    )
    deliveries = conn.execute(f"DELETE FROM deliveries WHERE {_DELIVERIES_WHERE}", (first, last))
    keys = conn.execute(
        "DELETE FROM idempotency_keys WHERE message_id BETWEEN ? AND ?", (first, last)
    )
    conn.execute("DELETE FROM messages WHERE id BETWEEN ? AND ?", (first, last))
    # Notices go with the mail around them: the old enough ones positioned before the oldest
    # message left (a range on the position index). A notice positioned after a message that
    # stays waits for it, so the oldest message left still bounds what a cursor can skip.
    notices = conn.execute(_PURGE_NOTICES, (before,))
    return Purged(
        messages=count,
        deliveries=deliveries.rowcount,
        idempotency_keys=keys.rowcount,
        notices=notices.rowcount,
        first_id=first,
        last_id=last,
        more=count == limit,
    )


def count_purgeable(conn: sqlite3.Connection, before: int) -> Purged:
    """What purging everything created before ``before`` would remove now (reads only)."""
    count, first, last = _old_range(conn, before, -1)
    if count == 0:
        return Purged()
    (deliveries,) = conn.execute(
        f"SELECT count(*) FROM deliveries WHERE {_DELIVERIES_WHERE}", (first, last)
    ).fetchone()
    (keys,) = conn.execute(
        "SELECT count(*) FROM idempotency_keys WHERE message_id BETWEEN ? AND ?", (first, last)
    ).fetchone()
    (notices,) = conn.execute(
        f"SELECT count(*) FROM notices WHERE {_OLD_NOTICES}", (last, before)
    ).fetchone()
    return Purged(count, deliveries, keys, first, last, more=False, notices=notices)
