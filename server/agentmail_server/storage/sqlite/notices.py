"""Notices (coordination events for one agent): appended inside write operations, read by
the inbox stream's catch-up.

A notice takes the next position of the message id sequence, so mail and notices of one
agent's stream interleave in commit order under one cursor (see :mod:`.schema`, version 6).
"""

from __future__ import annotations

import sqlite3

from agentmail_server.domain.notices import Notice, NoticeDetail, decode_detail, encode_detail

# The next message id or notice position: past every message, every notice and the highest id
# retention ever purged (so a purged id is never handed out again). Three index seeks.
NEXT_POSITION = (
    "SELECT max((SELECT coalesce(max(id), 0) FROM messages),"
    " (SELECT coalesce(max(position), 0) FROM notices),"
    " (SELECT coalesce(max(value), 0) FROM sequences WHERE name = 'messages')) + 1"
)

NOTICE_COLUMNS = "agent_id, position, created_at, type, payload"


def append_notice(
    conn: sqlite3.Connection, agent_id: int, detail: NoticeDetail, now: int
) -> Notice:
    """Store a notice for ``agent_id`` at the next position, inside the caller's transaction.

    The writer operation that calls this must return the notice in its result and record it
    on the commit (``CommitBuilder.notices``) so that live subscribers receive it.
    """
    (position,) = conn.execute(NEXT_POSITION).fetchone()
    tag, payload = encode_detail(detail)
    conn.execute(
        f"INSERT INTO notices ({NOTICE_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        (agent_id, position, now, tag, payload),
    )
    return Notice(agent_id=agent_id, position=position, created_at=now, detail=detail)


def notice_from_row(row: tuple[int, int, int, str, str]) -> Notice:
    """A notice from a row of :data:`NOTICE_COLUMNS`."""
    agent_id, position, created_at, tag, payload = row
    return Notice(agent_id, position, created_at, decode_detail(tag, payload))
