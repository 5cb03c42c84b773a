"""Coordination ports on PostgreSQL: lifecycle and presence, contact policies and requests
(:mod:`.contacts`), reservations (:mod:`.reservations`). Retention purges are in
:mod:`.retention`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from agentmail_server.domain.contacts import ContactPolicy
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.events import AgentChange, CommitBuilder
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
    record_request,
    record_response,
)
from agentmail_server.domain.models import Agent
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.reservations import (
    Hold,
    Reservation,
    Reserved,
    ReserveRequest,
    Selection,
)
from agentmail_server.storage.postgres import contacts, reservations
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.writer import PgWriter
from agentmail_server.storage.postgres.writes import load_agent
from agentmail_server.storage.sqlite.lifecycle import RETIRED_REASON
from agentmail_server.storage.sqlite.reservation_writes import (
    record_changed,
    record_forced,
    record_notices,
    record_reserved,
)
from agentmail_server.storage.sqlite.rows import (
    HOLD_COLUMNS,
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    hold_from_row,
    reservation_from_row,
)

# Agents the idle sweep retires per write operation: a short transaction.
RETIRE_BATCH = 200


async def _retire(conn: Conn, agent_id: int, now: int) -> tuple[Agent, bool]:
    cursor = await conn.execute(
        "UPDATE agents SET retired_at = %s, updated_at = %s WHERE id = %s AND retired_at IS NULL",
        (now, now, agent_id),
    )
    changed = cursor.rowcount == 1
    if changed:  # retiring releases what the agent holds, as on SQLite
        await reservations.release_all_of(conn, agent_id, now, RETIRED_REASON)
    return await load_agent(conn, agent_id), changed


async def _unretire(conn: Conn, agent_id: int, now: int) -> tuple[Agent, bool]:
    cursor = await conn.execute(
        "UPDATE agents SET retired_at = NULL, updated_at = %s,"
        " last_active_at = greatest(coalesce(last_active_at, 0), %s)"
        " WHERE id = %s AND retired_at IS NOT NULL",
        (now, now, agent_id),
    )
    return await load_agent(conn, agent_id), cursor.rowcount == 1


async def _touch(conn: Conn, stamps: Sequence[tuple[int, int]]) -> int:
    await conn.execute(
        "UPDATE agents a SET last_active_at = greatest(coalesce(a.last_active_at, 0), s.at)"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS s(id, at) WHERE a.id = s.id",
        ([agent_id for agent_id, _ in stamps], [when for _, when in stamps]),
    )
    return len(stamps)


async def _retire_idle(conn: Conn, idle_before: int, now: int) -> list[Agent]:
    cursor = await conn.execute(
        "SELECT id FROM agents WHERE retired_at IS NULL"
        " AND coalesce(last_active_at, created_at) < %s ORDER BY id LIMIT %s",
        (idle_before, RETIRE_BATCH),
    )
    return [(await _retire(conn, row[0], now))[0] for row in await cursor.fetchall()]


async def _set_policy(conn: Conn, agent_id: int, policy: ContactPolicy, now: int) -> Agent:
    await conn.execute(
        "UPDATE agents SET contact_policy = %s, updated_at = %s WHERE id = %s",
        (int(policy), now, agent_id),
    )
    return await load_agent(conn, agent_id)


def _record_change(changes: CommitBuilder, result: tuple[Agent, bool]) -> None:
    agent, changed = result
    if changed:
        changes.agents.append(AgentChange(agent, created=False))


class PgLifecycleWrites:
    """Retirement and last-active times through the writer."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def retire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Retire the agent (the first retirement time stays)."""
        return await self._writer.submit(
            functools.partial(_retire, agent_id=agent_id, now=now), _record_change
        )

    async def unretire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Bring the agent back (its last-active time becomes ``now``)."""
        return await self._writer.submit(
            functools.partial(_unretire, agent_id=agent_id, now=now), _record_change
        )

    async def touch_agents(self, stamps: Sequence[tuple[int, int]]) -> int:
        """Move last-active times forward (never back), all in one statement."""
        return await self._writer.submit(functools.partial(_touch, stamps=stamps))

    async def retire_idle(self, idle_before: int, now: int) -> list[Agent]:
        """Retire a batch of agents idle since before ``idle_before``."""

        def record(changes: CommitBuilder, retired: list[Agent]) -> None:
            changes.agents.extend(AgentChange(agent, created=False) for agent in retired)

        operation = functools.partial(_retire_idle, idle_before=idle_before, now=now)
        return await self._writer.submit(operation, record)


class PgContactWrites:
    """Contact policies; contact requests and responses are not ported yet."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def set_contact_policy(self, agent_id: int, policy: ContactPolicy, now: int) -> Agent:
        """Store the agent's own policy."""
        operation = functools.partial(_set_policy, agent_id=agent_id, policy=policy, now=now)
        return await self._writer.submit(operation)

    async def request_contact(
        self, request: ContactRequest, default_policy: ContactPolicy, now: int
    ) -> RequestOutcome:
        """Open or refresh the requester's pending link, telling the target once."""
        operation = functools.partial(
            contacts.request_contact, request=request, default_policy=default_policy, now=now
        )
        return await self._writer.submit(operation, record_request)

    async def respond_contact(self, response: ContactResponse, now: int) -> ResponseOutcome:
        """Approve or block the requester's link to the responder, telling the requester."""
        operation = functools.partial(contacts.respond_contact, response=response, now=now)
        return await self._writer.submit(operation, record_response)


class PgReservationWrites:
    """The PostgreSQL :class:`~agentmail_server.storage.ports.ReservationWrites`: the
    operations of :mod:`.reservations`, recorded as on SQLite."""

    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def reserve(self, request: ReserveRequest, now: int) -> Reserved:
        """Check conflicts and grant in one write operation, under the project's lock."""
        operation = functools.partial(reservations.reserve, request=request, now=now)
        return await self._writer.submit(operation, record_reserved)

    async def renew(
        self, agent_id: int, project_id: int, selection: Selection, extend_micros: int, now: int
    ) -> list[Reservation]:
        """Extend the agent's selected active reservations."""
        operation = functools.partial(
            reservations.renew,
            agent_id=agent_id,
            project_id=project_id,
            selection=selection,
            extend_micros=extend_micros,
            now=now,
        )
        return await self._writer.submit(operation, record_changed)

    async def release(
        self, agent_id: int, agent_name: str, project_id: int, selection: Selection, now: int
    ) -> list[Reservation]:
        """Release the agent's selected active reservations."""
        operation = functools.partial(
            reservations.release,
            agent_id=agent_id,
            agent_name=agent_name,
            project_id=project_id,
            selection=selection,
            now=now,
        )
        return await self._writer.submit(operation, record_changed)

    async def force_release(
        self,
        reservation_id: int,
        expected_version: int | None,
        releaser: str,
        reason: str,
        mail: Draft | None,
        now: int,
    ) -> tuple[Reservation, Sent | None, Notice | None]:
        """Release a reservation, mail its holder (with ``mail``) and leave it an event."""
        operation = functools.partial(
            reservations.force_release,
            reservation_id=reservation_id,
            expected_version=expected_version,
            releaser=releaser,
            reason=reason,
            mail=mail,
            now=now,
        )
        return await self._writer.submit(operation, record_forced)

    async def expire(self, now: int, limit: int) -> list[Reservation]:
        """Record expired reservations as released."""
        operation = functools.partial(reservations.expire, now=now, limit=limit)
        return await self._writer.submit(operation, record_changed)

    async def mark_expiring(self, now: int, horizon_micros: int, limit: int) -> list[Notice]:
        """Warn the holders of reservations about to expire (once each)."""
        operation = functools.partial(
            reservations.mark_expiring, now=now, horizon_micros=horizon_micros, limit=limit
        )
        return await self._writer.submit(operation, record_notices)


class PgReservationReads:
    """Reservation reads (index seeks)."""

    def __init__(self, pool: ReadPool) -> None:
        self._pool = pool

    async def active(self, project_id: int, now: int) -> list[Hold]:
        """The project's reservations active at ``now``."""
        rows = await self._pool.fetchall(
            f"SELECT {HOLD_COLUMNS} FROM {RESERVATION_FROM}"
            " WHERE r.project_id = %s AND r.released_at IS NULL AND r.expires_at > %s",
            (project_id, now),
        )
        return [hold_from_row(row) for row in rows]

    async def reservation(self, reservation_id: int) -> Reservation | None:
        """One reservation by id."""
        row = await self._pool.fetchone(
            f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM} WHERE r.id = %s",
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
        """The project's reservations in id order after ``after_id``."""
        where = ["r.project_id = %s", "r.id > %s"]
        params: list[Any] = [project_id, after_id]
        if active_at is not None:
            where.append("r.released_at IS NULL AND r.expires_at > %s")
            params.append(active_at)
        if agent_id is not None:
            where.append("r.agent_id = %s")
            params.append(agent_id)
        rows = await self._pool.fetchall(
            f"SELECT {RESERVATION_COLUMNS} FROM {RESERVATION_FROM}"
            f" WHERE {' AND '.join(where)} ORDER BY r.id LIMIT %s",
            (*params, limit),
        )
        return [reservation_from_row(row) for row in rows]

    async def holder_last_active(self, agent_id: int) -> int:
        """The agent's latest activity known to storage, as on SQLite: its last
        authenticated call (as the presence flush last wrote it), its registration or profile
        update, its newest sent message, or its newest reservation change (0 if unknown)."""
        row = await self._pool.fetchone(
            "SELECT greatest("
            " (SELECT greatest(updated_at, coalesce(last_active_at, 0)) FROM agents"
            " WHERE id = %s),"
            " (SELECT created_at FROM messages WHERE sender_id = %s ORDER BY id DESC LIMIT 1),"
            " (SELECT max(updated_at) FROM reservations WHERE agent_id = %s), 0)",
            (agent_id, agent_id, agent_id),
        )
        return int(row[0]) if row else 0
