"""Coordination ports on PostgreSQL: lifecycle and presence, contact policies and requests
(:mod:`.contacts`), reservation reads — and the writes not ported yet.

What is not ported fails with UNIMPLEMENTED (reason ``NOT_ON_POSTGRES``) naming the operation,
never a crash: reservation grants, renewals and releases, and retention purges. The background
sweeps that call reservation writes (expiry, expiry warnings) find nothing to do, which is
true: no reservation can be granted on this backend yet. Retirement does not release
reservations for the same reason.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, NoReturn

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
from agentmail_server.domain.retention import Purged
from agentmail_server.errors import Unimplemented
from agentmail_server.storage.postgres import contacts
from agentmail_server.storage.postgres.connection import Conn
from agentmail_server.storage.postgres.readers import ReadPool
from agentmail_server.storage.postgres.writer import PgWriter
from agentmail_server.storage.postgres.writes import load_agent
from agentmail_server.storage.sqlite.rows import (
    HOLD_COLUMNS,
    RESERVATION_COLUMNS,
    RESERVATION_FROM,
    hold_from_row,
    reservation_from_row,
)

# Agents the idle sweep retires per write operation: a short transaction.
RETIRE_BATCH = 200


def not_ported(operation: str) -> NoReturn:
    """Fail an operation this backend does not serve yet."""
    raise Unimplemented(
        "NOT_ON_POSTGRES",
        f"{operation} is not available on the PostgreSQL backend yet; run agentmail on its"
        " embedded SQLite database (no --database-url) to use it",
        metadata={"operation": operation},
    )


async def _retire(conn: Conn, agent_id: int, now: int) -> tuple[Agent, bool]:
    cursor = await conn.execute(
        "UPDATE agents SET retired_at = %s, updated_at = %s WHERE id = %s AND retired_at IS NULL",
        (now, now, agent_id),
    )
    return await load_agent(conn, agent_id), cursor.rowcount == 1


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
    """File reservations are not ported yet: grants fail with UNIMPLEMENTED, and the sweeps
    find nothing to expire (none can exist)."""

    async def reserve(self, request: ReserveRequest, now: int) -> Reserved:
        """Not ported yet: fails with UNIMPLEMENTED."""
        not_ported("ReservePaths")

    async def renew(
        self, agent_id: int, project_id: int, selection: Selection, extend_micros: int, now: int
    ) -> list[Reservation]:
        """Not ported yet: fails with UNIMPLEMENTED."""
        not_ported("RenewReservations")

    async def release(
        self, agent_id: int, agent_name: str, project_id: int, selection: Selection, now: int
    ) -> list[Reservation]:
        """Not ported yet: fails with UNIMPLEMENTED."""
        not_ported("ReleaseReservations")

    async def force_release(
        self,
        reservation_id: int,
        expected_version: int | None,
        releaser: str,
        reason: str,
        mail: Draft | None,
        now: int,
    ) -> tuple[Reservation, Sent | None, Notice | None]:
        """Not ported yet: fails with UNIMPLEMENTED."""
        not_ported("ForceReleaseReservation")

    async def expire(self, now: int, limit: int) -> list[Reservation]:
        """Nothing to expire: no reservation can be granted on this backend yet."""
        return []

    async def mark_expiring(self, now: int, horizon_micros: int, limit: int) -> list[Notice]:
        """Nothing to warn about: no reservation can be granted on this backend yet."""
        return []


class PgRetentionWrites:
    """Retention purges are not ported yet."""

    async def purge_messages(self, before: int, limit: int) -> Purged:
        """Not ported yet: fails with UNIMPLEMENTED (the server refuses --retention-days
        with --database-url at start-up, so only a direct caller sees it)."""
        not_ported("retention purge")


class PgReservationReads:
    """Reservation reads (index seeks; the table stays empty until grants are ported)."""

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
        """The agent's latest known activity in microseconds (0 if none)."""
        row = await self._pool.fetchone(
            "SELECT coalesce(last_active_at, created_at, 0) FROM agents WHERE id = %s",
            (agent_id,),
        )
        return int(row[0]) if row else 0
