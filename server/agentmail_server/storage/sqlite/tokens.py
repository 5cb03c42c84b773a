"""Write operations on agents' tokens (schema 10's ``agent_tokens``): issue, rotate, revoke.

Each runs on the writer thread inside the batch transaction, like :mod:`.writes`. Only hashes
of tokens are stored; the tokens themselves never reach this module.
"""

from __future__ import annotations

import sqlite3


def add_token(
    conn: sqlite3.Connection, agent_id: int, token_hash: str, now: int, expires_at: int | None
) -> None:
    """Give the agent one more token (by hash)."""
    conn.execute(
        "INSERT INTO agent_tokens (agent_id, token_hash, created_at, expires_at)"
        " VALUES (?, ?, ?, ?)",
        (agent_id, token_hash, now, expires_at),
    )


def holder_of(conn: sqlite3.Connection, token_hash: str, now: int) -> int | None:
    """The agent holding the unexpired token with this hash, if any (a unique-index seek)."""
    row = conn.execute(
        "SELECT agent_id, expires_at FROM agent_tokens WHERE token_hash = ?", (token_hash,)
    ).fetchone()
    if row is None or (row[1] is not None and row[1] <= now):
        return None
    return int(row[0])


def rotate_token(
    conn: sqlite3.Connection, agent_id: int, new_hash: str, now: int, overlap_micros: int
) -> None:
    """Give the agent a new token; its other tokens expire after ``overlap_micros`` (at once
    when 0; an earlier expiry is kept). Expired tokens of the agent are deleted here."""
    conn.execute(
        "DELETE FROM agent_tokens WHERE agent_id = ? AND expires_at IS NOT NULL"
        " AND expires_at <= ?",
        (agent_id, now),
    )
    if overlap_micros <= 0:
        conn.execute("DELETE FROM agent_tokens WHERE agent_id = ?", (agent_id,))
    else:
        until = now + overlap_micros
        conn.execute(
            "UPDATE agent_tokens SET expires_at = min(coalesce(expires_at, ?), ?)"
            " WHERE agent_id = ?",
            (until, until, agent_id),
        )
    add_token(conn, agent_id, new_hash, now, None)


def revoke_tokens(
    conn: sqlite3.Connection, agent_id: int, now: int, replacement_hash: str | None
) -> int:
    """Delete every token of the agent, then give it ``replacement_hash`` if any; returns how
    many tokens were revoked."""
    cursor = conn.execute("DELETE FROM agent_tokens WHERE agent_id = ?", (agent_id,))
    if replacement_hash is not None:
        add_token(conn, agent_id, replacement_hash, now, None)
    return cursor.rowcount
