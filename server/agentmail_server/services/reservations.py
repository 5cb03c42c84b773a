"""Use cases of ReservationService: reserve, check, renew, release, force-release, list."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.domain import cursors, limits, names
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.models import (
    Caller,
    Identity,
    Importance,
    Operator,
    Recipient,
    RecipientKind,
)
from agentmail_server.domain.reservations import (
    DEFAULT_EXTEND_SECONDS,
    DEFAULT_TTL_SECONDS,
    MAX_PATHS_PER_CHECK,
    MAX_PATTERNS_PER_RESERVE,
    Conflict,
    Reservation,
    Reserved,
    ReserveMode,
    ReserveRequest,
    bounded_conflicts,
    find_path_conflicts,
    path_matches,
)
from agentmail_server.errors import FailedPrecondition, NotFound, invalid
from agentmail_server.services import reservation_input as check
from agentmail_server.storage.ports import MailReads, ReservationReads, ReservationWrites

MICROS = 1_000_000
# ListReservations with a path filter reads the project's reservations in chunks and stops
# after this many rows per call (returning a token to go on): a page never costs a full scan.
LIST_SCAN_BUDGET = 5000
LIST_SCAN_CHUNK = 500
NOTICE_TOPIC = "reservations"
# Recorded as the release reason when an operator gives none.
OPERATOR_REASON = "released by an operator"


@dataclasses.dataclass(frozen=True)
class ReserveCall:
    """What ReservePaths asks for, as received."""

    paths: Sequence[str]
    shared: bool = False
    ttl_seconds: int = 0
    reason: str = ""
    idempotency_key: str = ""
    mode: int = 0


@dataclasses.dataclass(frozen=True)
class ForceReleased:
    """What a force-release did.

    Attributes:
        reservation: The reservation, released (or as it was, if it had been already).
        project_slug: Its project's slug.
        notice: The mail that told the holder; None when none was sent (already released,
            the caller's own, or an operator's release, told by event only).
    """

    reservation: Reservation
    project_slug: str
    notice: Sent | None = None


class Reservations:
    """Use cases of ReservationService.

    Args:
        writes: The storage's reservation writes (conflict check and grant are one write).
        reads: The storage's reservation reads.
        mail_reads: Agent lookups (the list's agent filter).
        codec: Seals ListReservations page tokens.
        clock: The wall clock: expiry is decided against it at every call.
        stale_seconds: Inactivity after which a holder's reservations may be force-released.
    """

    def __init__(
        self,
        writes: ReservationWrites,
        reads: ReservationReads,
        mail_reads: MailReads,
        codec: CursorCodec,
        clock: Clock,
        stale_seconds: float,
    ) -> None:
        self._writes = writes
        self._reads = reads
        self._mail_reads = mail_reads
        self._codec = codec
        self._clock = clock
        self._stale_micros = round(stale_seconds * MICROS)

    def now(self) -> int:
        """The time the service decides expiry against, in microseconds."""
        return self._clock.now_micros()

    async def reserve(self, caller: Identity, call: ReserveCall) -> Reserved:
        """Grant what the mode allows and report the conflicts."""
        chosen = check.pattern_list("paths", call.paths, MAX_PATTERNS_PER_RESERVE, required=True)
        ttl = check.seconds("ttl_seconds", call.ttl_seconds, DEFAULT_TTL_SECONDS)
        why = check.reason("reason", call.reason)
        limits.check_length(
            "idempotency_key", call.idempotency_key, limits.MAX_IDEMPOTENCY_KEY_CHARS
        )
        mode = ReserveMode(call.mode or ReserveMode.DEFAULT)
        request = ReserveRequest(
            project_id=caller.project_id,
            agent_id=caller.agent_id,
            agent_name=caller.name,
            patterns=tuple(chosen),
            exclusive=not call.shared,
            ttl_micros=ttl * MICROS,
            reason=why,
            mode=mode,
            idempotency_key=call.idempotency_key,
            digest=check.request_digest(chosen, not call.shared, ttl, why, int(mode))
            if call.idempotency_key
            else "",
        )
        return await self._writes.reserve(request, self._clock.now_micros())

    async def check_conflicts(
        self, caller: Identity, paths: Sequence[str], *, include_shared: bool
    ) -> tuple[tuple[Conflict, ...], bool]:
        """Other agents' active exclusive reservations (and shared ones too when
        ``include_shared``) that overlap ``paths``, from one snapshot; and whether the output
        was truncated. Checking "as an exclusive reservation" is exactly what reports shared
        holders as well, hence the flag is passed as ``exclusive``."""
        chosen = check.path_list("paths", paths, MAX_PATHS_PER_CHECK)
        active = await self._reads.active(caller.project_id, self._clock.now_micros())
        found = find_path_conflicts(chosen, include_shared, caller.agent_id, active)
        return bounded_conflicts(found)

    async def renew(
        self, caller: Identity, ids: Sequence[int], patterns: Sequence[str], extend_seconds: int
    ) -> list[Reservation]:
        """Extend the caller's selected active reservations."""
        selection = check.selection(ids, patterns, None)
        extend = check.seconds("extend_seconds", extend_seconds, DEFAULT_EXTEND_SECONDS)
        return await self._writes.renew(
            caller.agent_id,
            caller.project_id,
            selection,
            extend * MICROS,
            self._clock.now_micros(),
        )

    async def release(
        self, caller: Identity, ids: Sequence[int], patterns: Sequence[str], everything: bool
    ) -> list[Reservation]:
        """Release the caller's selected active reservations."""
        selection = check.selection(ids, patterns, everything)
        return await self._writes.release(
            caller.agent_id, caller.name, caller.project_id, selection, self._clock.now_micros()
        )

    async def force_release(
        self, caller: Caller, reservation_id: int, reason: str, project: str = ""
    ) -> ForceReleased:
        """Release a reservation held by another agent.

        An agent may release a stale one of its own project (expired, or its holder inactive
        past ``stale_seconds``) and its holder is told by mail from that agent. An operator
        may release any reservation of the project it names, stale or not (its decision);
        being no agent it sends no mail: the holder is told by its FORCE_RELEASED event.

        Raises:
            InvalidArgument: a bad id or reason, or an operator named no project.
            NotFound: PROJECT_NOT_FOUND (an agent naming another project, or an unknown one),
                RESERVATION_NOT_FOUND.
            FailedPrecondition: RESERVATION_ACTIVE (agents only) while the reservation holds
                and its holder was active within ``stale_seconds``.
        """
        if reservation_id <= 0:
            raise invalid("id", f"must be a positive reservation id (got {reservation_id})")
        why = check.reason("reason", reason)
        project_id, slug = await self._project_of(caller, project)
        current = await self._reads.reservation(reservation_id)
        if current is None or current.project_id != project_id:
            raise NotFound(
                "RESERVATION_NOT_FOUND",
                f"no reservation with id {reservation_id} in project {slug!r}",
                metadata={"reservationIds": str(reservation_id)},
            )
        now = self._clock.now_micros()
        if isinstance(caller, Operator):
            released, _, _ = await self._writes.force_release(
                reservation_id,
                None,
                f"operator:{caller.label}",
                why or OPERATOR_REASON,
                None,
                now,
            )
            return ForceReleased(released, slug)
        if current.agent_id == caller.agent_id:
            own = await self.release(caller, [reservation_id], [], False)
            return ForceReleased(own[0] if own else current, slug)
        if current.released_at is not None:
            return ForceReleased(current, slug)
        stale = await self._staleness(current, now)
        mail = _notice(caller, current, why, stale)
        released, sent, _ = await self._writes.force_release(
            reservation_id, current.updated_at, caller.name, why or stale, mail, now
        )
        return ForceReleased(released, slug, sent)

    async def _project_of(self, caller: Caller, slug: str) -> tuple[int, str]:
        """The id and slug of the project a call is about: an agent's own (naming another is
        NOT_FOUND, as if it did not exist), or the one an operator must name."""
        if isinstance(caller, Identity):
            if slug and slug != caller.project_slug:
                raise _no_project(slug)
            return caller.project_id, caller.project_slug
        if not slug:
            raise invalid("project", "is required when an operator calls")
        found = await self._mail_reads.project_by_slug(slug)
        if found is None:
            raise _no_project(slug)
        return found.id, found.slug

    async def _staleness(self, current: Reservation, now: int) -> str:
        """Why the reservation is stale, or FailedPrecondition when it is not."""
        if current.expires_at <= now:
            return "expired"
        last = await self._reads.holder_last_active(current.agent_id)
        idle = (now - last) // MICROS
        if now - last >= self._stale_micros:
            return f"{current.agent_name} inactive for {idle} s"
        raise FailedPrecondition(
            "RESERVATION_ACTIVE",
            f"reservation {current.id} of {current.agent_name} is active and its holder was"
            f" active {idle} s ago (stale after {self._stale_micros // MICROS} s): ask"
            f" {current.agent_name} to release it",
            metadata={
                "reservationId": str(current.id),
                "holder": current.agent_name,
                "idleSeconds": str(idle),
                "staleAfterSeconds": str(self._stale_micros // MICROS),
            },
        )

    async def list(
        self,
        caller: Identity,
        *,
        include_inactive: bool,
        agent: str,
        path: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[Reservation], str]:
        """A page of the project's reservations, oldest first, and the next page's token."""
        size = limits.page_size(page_size, 100, 1000)
        target = check.path("path", path) if path else ""
        agent_id = await self._agent_id(caller, agent) if agent else None
        scope = (caller.agent_id, caller.project_id, include_inactive, agent_id, target)
        after = self._codec.decode(page_token, cursors.RESERVATIONS, scope) or 0
        active_at = None if include_inactive else self._clock.now_micros()
        page: list[Reservation] = []
        more = True
        budget = LIST_SCAN_BUDGET if target else size + 1
        while more and len(page) < size and budget > 0:
            limit = min(LIST_SCAN_CHUNK, budget) if target else size + 1
            chunk = await self._reads.reservations(
                caller.project_id,
                after_id=after,
                limit=limit,
                active_at=active_at,
                agent_id=agent_id,
            )
            more = len(chunk) == limit
            budget -= len(chunk)
            for found in chunk:
                if len(page) == size:
                    more = True
                    break
                after = found.id
                if not target or path_matches(found.pattern, target):
                    page.append(found)
            if not target:
                break
        token = self._codec.encode(cursors.RESERVATIONS, scope, after) if more else ""
        return page, token

    async def _agent_id(self, caller: Identity, name: str) -> int:
        agent = await self._mail_reads.agent_by_key(caller.project_id, names.name_key(name))
        if agent is None:
            raise NotFound(
                "AGENT_NOT_FOUND",
                f"no agent {name!r} in project {caller.project_slug!r}",
                metadata={"name": name, "project": caller.project_slug},
            )
        return agent.id


def _no_project(slug: str) -> NotFound:
    return NotFound("PROJECT_NOT_FOUND", f"no project {slug!r}", metadata={"project": slug})


def _notice(caller: Identity, reservation: Reservation, reason: str, stale: str) -> Draft:
    """The mail that tells a holder its reservation was force-released."""
    subject = f"Reservation released: {reservation.pattern}"
    if len(subject) > limits.MAX_SUBJECT_CHARS:
        subject = subject[: limits.MAX_SUBJECT_CHARS - 1] + "…"
    body = (
        f"{caller.name} force-released your reservation #{reservation.id} of"
        f" `{reservation.pattern}` ({'exclusive' if reservation.exclusive else 'shared'}).\n\n"
        f"Why it was stale: {stale}.\n\n"
        f"Reason given: {reason or '(none)'}\n\n"
        "Reserve the pattern again (ReservePaths) if you still need it."
    )
    return Draft(
        project_id=caller.project_id,
        sender_id=caller.agent_id,
        sender_name=caller.name,
        recipients=(Recipient(reservation.agent_id, reservation.agent_name, RecipientKind.TO),),
        subject=subject,
        body=body,
        importance=Importance.HIGH,
        ack_required=False,
        thread_id="",
        topic=NOTICE_TOPIC,
        idempotency_key="",
    )
