"""Write operations on agents' lifecycle and presence: retirement and last-active times.

Each runs on the writer thread inside the batch transaction, like :mod:`.writes`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from agentmail_server.domain.models import Agent
from agentmail_server.storage.sqlite import reservations, writes

# Agents the idle sweep retires per write operation: a short hold of the write lock.
RETIRE_BATCH = 200
# Why a retired agent's reservations were released (recorded on each).
RETIRED_REASON = "retired"


def release_agent_reservations(conn: sqlite3.Connection, agent_id: int, now: int) -> None:
    """Release every active reservation the agent holds (retiring releases them), in the
    retirement's transaction, recorded with the reason "retired"."""
    reservations.release_all_of(conn, agent_id, now, RETIRED_REASON)


def retire_agent(conn: sqlite3.Connection, agent_id: int, now: int) -> tuple[Agent, bool]:
    """Retire the agent (a retired one keeps its first retirement time); returns the agent
    and whether this call retired it."""
    cursor = conn.execute(
        "UPDATE agents SET retired_at = ?, updated_at = ? WHERE id = ? AND retired_at IS NULL",
        (now, now, agent_id),
    )
    changed = cursor.rowcount == 1
    if changed:
        release_agent_reservations(conn, agent_id, now)
    return writes.load_agent(conn, agent_id), changed


def unretire_agent(conn: sqlite3.Connection, agent_id: int, now: int) -> tuple[Agent, bool]:
    """Bring the agent back; returns the agent and whether it was retired. Its last-active
    time moves to now, so an idle sweep does not retire it again at once."""
    cursor = conn.execute(
        "UPDATE agents SET retired_at = NULL, updated_at = ?,"
        " last_active_at = max(coalesce(last_active_at, 0), ?)"
        " WHERE id = ? AND retired_at IS NOT NULL",
        (now, now, agent_id),
    )
    return writes.load_agent(conn, agent_id), cursor.rowcount == 1


def touch_agents(conn: sqlite3.Connection, stamps: Sequence[tuple[int, int]]) -> int:
    """Move each ``(agent_id, time)``'s last-active time forward (never back); returns how
    many agents were given."""
    conn.executemany(
        "UPDATE agents SET last_active_at = max(coalesce(last_active_at, 0), ?) WHERE id = ?",
        [(when, agent_id) for agent_id, when in stamps],
    )
    return len(stamps)


def retire_idle(conn: sqlite3.Connection, idle_before: int, now: int) -> list[Agent]:
    """Retire up to :data:`RETIRE_BATCH` agents whose last activity is before ``idle_before``.

    Runs in the background, never on a request's path: it reads the agents table in full.
    """
    ids = [
        row[0]
        for row in conn.execute(
            "SELECT id FROM agents WHERE retired_at IS NULL"
            " AND coalesce(last_active_at, created_at) < ? ORDER BY id LIMIT ?",
            (idle_before, RETIRE_BATCH),
        )
    ]
    return [retire_agent(conn, agent_id, now)[0] for agent_id in ids]
