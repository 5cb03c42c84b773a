"""File reservation writes through the single writer, each with the recorder that tells the
commit feed what it changed (the reservations as they are now, and a force-release's mail)."""

from __future__ import annotations

import functools

from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.events import CommitBuilder
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.reservations import Reservation, Reserved, ReserveRequest, Selection
from agentmail_server.storage.sqlite import reservations
from agentmail_server.storage.sqlite.writer import Writer


class SqliteReservationWrites:
    """The SQLite :class:`~agentmail_server.storage.ports.ReservationWrites`."""

    def __init__(self, writer: Writer) -> None:
        self._writer = writer

    async def reserve(self, request: ReserveRequest, now: int) -> Reserved:
        """Check conflicts and grant in one write operation."""
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
        """Release a reservation, mail its holder (with ``mail``) and leave it an event, in
        one write operation."""
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


# What each reservation write adds to its commit: the same on both backends (PostgreSQL's
# writes use these too).


def record_reserved(changes: CommitBuilder, reserved: Reserved) -> None:
    if not reserved.deduplicated:
        changes.reservations.extend(reserved.granted)
        changes.notices.extend(reserved.notices)


def record_changed(changes: CommitBuilder, changed: list[Reservation]) -> None:
    changes.reservations.extend(changed)


def record_forced(
    changes: CommitBuilder, result: tuple[Reservation, Sent | None, Notice | None]
) -> None:
    reservation, sent, event = result
    # The event is left exactly when this call released it (mail or not: an operator sends
    # none), so it also says whether the reservation changed.
    if event is not None:
        changes.reservations.append(reservation)
        changes.notices.append(event)
    if sent is not None:
        changes.sent(sent)


def record_notices(changes: CommitBuilder, notices: list[Notice]) -> None:
    changes.notices.extend(notices)
