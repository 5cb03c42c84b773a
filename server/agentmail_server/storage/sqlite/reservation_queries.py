"""Reservation reads on the read pool: each one query (one snapshot), each an index seek."""

from __future__ import annotations

from agentmail_server.domain.reservations import Hold, Reservation
from agentmail_server.storage.sqlite import hold_cache
from agentmail_server.storage.sqlite.hold_cache import HoldCache
from agentmail_server.storage.sqlite.readers import ReadPool
from agentmail_server.storage.sqlite.rows import (
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    hold_from_row,
    reservation_from_row,
)


class ReservationQueries:
    """The SQLite :class:`~agentmail_server.storage.ports.ReservationReads`."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool
        self.holds = HoldCache()

    async def active(self, project_id: int, now: int) -> list[Hold]:
        """The project's active reservations at ``now``, as holds: from the cache while no
        reservation changed since it was filled (one seek), else from one snapshot."""
        revision = (await self._pool.fetchall(hold_cache.NEWEST_REVISION))[0][0]
        cached = self.holds.get(project_id, revision)
        if cached is None:
            rows = await self._pool.fetchall(hold_cache.UNRELEASED_HOLDS, (project_id,))
            revision = rows[0][0]
            cached = tuple(hold_from_row(row[1:]) for row in rows if row[1] is not None)
            self.holds.put(project_id, revision, cached)
        return hold_cache.active(cached, now)

    async def reservation(self, reservation_id: int) -> Reservation | None:
        """One reservation by id."""
        row = await self._pool.fetchone(
            f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE r.id = ?",
            (reservation_id,),
        )
        return None if row is None else reservation_from_row(row)

    async def reservations(
        self,
        project_id: int,
        *,
        after_id: int,
        limit: int,
        active_at: int | None,
        agent_id: int | None,
    ) -> list[Reservation]:
        """The project's reservations in id order after ``after_id``: only those active at
        ``active_at`` unless it is None, only ``agent_id``'s unless it is None."""
        where = ["r.project_id = ?", "r.id > ?"]
        params: list[object] = [project_id, after_id]
        if active_at is not None:
            where.append("r.released_at IS NULL AND r.expires_at > ?")
            params.append(active_at)
        if agent_id is not None:
            where.append("r.agent_id = ?")
            params.append(agent_id)
        # Active ones come from the partial index (few rows, sorted here by the primary key);
        # all of them from (project_id, id) in order.
        index = "" if active_at is not None else " INDEXED BY reservations_by_project"
        rows = await self._pool.fetchall(
            f"SELECT {RESERVATION_COLUMNS} FROM reservations r{index}"
            f" JOIN agents a ON a.id = r.agent_id WHERE {' AND '.join(where)}"
            " ORDER BY r.id LIMIT ?",
            (*params, limit),
        )
        return [reservation_from_row(row) for row in rows]

    async def holder_last_active(self, agent_id: int) -> int:
        """The agent's latest activity known to storage: its last authenticated call (as the
        presence flush last wrote it, a few seconds behind at most), its registration or
        profile update, its newest sent message, or its newest reservation change (0 if
        unknown)."""
        row = await self._pool.fetchone(
            "SELECT max("
            " coalesce((SELECT max(updated_at, coalesce(last_active_at, 0)) FROM agents"
            " WHERE id = ?), 0),"
            " coalesce((SELECT created_at FROM messages WHERE sender_id = ?"
            " ORDER BY id DESC LIMIT 1), 0),"
            " coalesce((SELECT max(updated_at) FROM reservations WHERE agent_id = ?), 0))",
            (agent_id, agent_id, agent_id),
        )
        return int(row[0]) if row is not None else 0
