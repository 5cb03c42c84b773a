"""ReservationService calls: advisory leases on files of the project."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

from collections.abc import Iterable

from agentmail.v1 import reservation_service_pb2 as pb

from ._models import Page
from ._reservation_models import (
    CheckConflictsResult,
    Conflict,
    ForceReleaseResult,
    Reservation,
    ReserveMode,
    ReservePathsResult,
)
from ._transport import CallKind, ClientBase


def _paths(value: str | Iterable[str]) -> list[str]:
    # A bare string is itself an iterable of one-letter "paths": treat it as one path.
    return [value] if isinstance(value, str) else list(value)


def _ids(value: int | Iterable[int]) -> list[int]:
    return [value] if isinstance(value, int) else list(value)


class ReservationCalls(ClientBase):
    """The ReservationService part of :class:`~agentmail_client.AgentmailClient`."""

    async def reserve_paths(
        self,
        paths: str | Iterable[str],
        *,
        shared: bool = False,
        ttl_seconds: int = 0,
        reason: str = "",
        mode: ReserveMode = ReserveMode.DEFAULT,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> ReservePathsResult:
        """Reserves paths or gitignore-style patterns for this client's agent.

        Other agents' active reservations that overlap a pattern, where either side is
        exclusive, are conflicts. Reserving a pattern this agent holds already extends it in
        place (the later expiry wins). Only a call with an ``idempotency_key`` is retried.

        Args:
            paths: 1 to 256 paths or patterns relative to the project root, such as
                ``src/app.py``, ``src/**`` or ``tool://migrations``.
            shared: Reserve shared (conflicting only with exclusive reservations) instead of
                exclusive.
            ttl_seconds: Lifetime; 0 means one hour, else 60 s .. 30 days.
            reason: Why, shown to other agents (at most 512 characters).
            mode: How conflicts are treated (see :class:`ReserveMode`).
            idempotency_key: Makes the call safe to repeat for 24 hours: a repeat returns the
                first result.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            InvalidArgument: ``EMPTY_PATHS``, ``TOO_MANY_PATHS``, ``INVALID_PATTERN`` or
                ``INVALID_DURATION``, naming the field.
            FailedPrecondition: ``IDEMPOTENCY_KEY_REUSED`` for a key used with another request.
        """
        request = pb.ReservePathsRequest(
            paths=_paths(paths),
            shared=shared,
            ttl_seconds=ttl_seconds,
            reason=reason,
            idempotency_key=idempotency_key or "",
            mode=mode.to_proto(),
        )
        kind = CallKind.IDEMPOTENT_WRITE if idempotency_key else CallKind.WRITE
        stub = self._connection.reservations
        response = await self._call(stub.ReservePaths, request, kind, timeout)
        return ReservePathsResult(
            tuple(Reservation.from_proto(r) for r in response.granted),
            tuple(Conflict.from_proto(c) for c in response.conflicts),
            response.deduplicated,
        )

    async def check_conflicts(
        self,
        paths: str | Iterable[str],
        *,
        include_shared: bool = False,
        timeout: float | None = None,
    ) -> CheckConflictsResult:
        """Reports which paths other agents' active reservations conflict with. Read-only.

        Args:
            paths: 1 to 500 paths or patterns, e.g. the files staged for a commit.
            include_shared: Also report other agents' shared reservations (what an exclusive
                reservation of these paths would meet); by default only exclusive ones
                conflict, which is what a pre-commit guard asks.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: ``EMPTY_PATHS``, ``TOO_MANY_PATHS`` or ``INVALID_PATTERN``.
        """
        request = pb.CheckConflictsRequest(paths=_paths(paths), include_shared=include_shared)
        stub = self._connection.reservations
        response = await self._call(stub.CheckConflicts, request, CallKind.READ, timeout)
        return CheckConflictsResult(
            tuple(Conflict.from_proto(c) for c in response.conflicts), response.truncated
        )

    async def renew_reservations(
        self,
        *,
        ids: int | Iterable[int] = (),
        patterns: str | Iterable[str] = (),
        extend_seconds: int = 0,
        timeout: float | None = None,
    ) -> tuple[Reservation, ...]:
        """Extends this agent's active reservations, chosen by ids or by patterns (one of
        the two). The new expiry is the later of now and the old expiry, plus the extension.
        Not retried: each call extends again.

        Args:
            ids: Reservation ids.
            patterns: Patterns this agent holds (others are skipped).
            extend_seconds: 0 means 30 minutes, else 60 s .. 30 days.
            timeout: Deadline in seconds; defaults to ``timeouts.write``.

        Raises:
            InvalidArgument: ``EMPTY_SELECTION``/``AMBIGUOUS_SELECTION`` or ``INVALID_DURATION``.
            NotFound: ``RESERVATION_NOT_FOUND``.
            PermissionDenied: ``NOT_RESERVATION_HOLDER``.
            FailedPrecondition: ``RESERVATION_NOT_ACTIVE`` for a released or expired id.
        """
        request = pb.RenewReservationsRequest(
            ids=_ids(ids), patterns=_paths(patterns), extend_seconds=extend_seconds
        )
        stub = self._connection.reservations
        response = await self._call(stub.RenewReservations, request, CallKind.WRITE, timeout)
        return tuple(Reservation.from_proto(r) for r in response.renewed)

    async def release_reservations(
        self,
        *,
        ids: int | Iterable[int] = (),
        patterns: str | Iterable[str] = (),
        all: bool = False,
        timeout: float | None = None,
    ) -> tuple[Reservation, ...]:
        """Releases this agent's reservations chosen by ids, by patterns or all of them
        (exactly one). Safe to repeat: what is released stays released.

        Args:
            ids: Reservation ids.
            patterns: Patterns this agent holds (others are skipped).
            all: Release every active reservation of this agent.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Returns:
            The reservations this call released.

        Raises:
            InvalidArgument: ``EMPTY_SELECTION`` or ``AMBIGUOUS_SELECTION``.
            NotFound: ``RESERVATION_NOT_FOUND``.
            PermissionDenied: ``NOT_RESERVATION_HOLDER``.
        """
        request = pb.ReleaseReservationsRequest(ids=_ids(ids), patterns=_paths(patterns), all=all)
        stub = self._connection.reservations
        response = await self._call(
            stub.ReleaseReservations, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return tuple(Reservation.from_proto(r) for r in response.released)

    async def force_release_reservation(
        self,
        reservation_id: int,
        *,
        reason: str = "",
        project: str = "",
        timeout: float | None = None,
    ) -> ForceReleaseResult:
        """Releases another agent's stale reservation (expired, or its holder inactive past
        the server's threshold); the holder is told by mail. Safe to repeat.

        On an operator's client (an operator token, or a client certificate the server
        lists in ``operator_cert_names``) any reservation of any project may be released,
        stale or not, naming its ``project``. An operator sends no mail: the holder is told
        by a ``FORCE_RELEASED`` :class:`~agentmail_client.ReservationEvent` only, and
        ``notice_message_id`` is 0.

        Args:
            reservation_id: The reservation's id.
            reason: Recorded on the reservation and sent to the holder (at most 512
                characters, one line).
            project: Slug of the reservation's project: required for an operator; an
                agent may leave it empty (its own project).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            NotFound: ``RESERVATION_NOT_FOUND``, or ``PROJECT_NOT_FOUND`` for an unknown
                ``project`` (or, for an agent, another project).
            InvalidArgument: an operator gave no ``project``; a bad id or reason.
            FailedPrecondition: ``RESERVATION_ACTIVE`` while the holder is active (agents
                only), with ``metadata["idleSeconds"]`` and ``metadata["staleAfterSeconds"]``.
        """
        request = pb.ForceReleaseReservationRequest(
            id=reservation_id, reason=reason, project=project
        )
        stub = self._connection.reservations
        response = await self._call(
            stub.ForceReleaseReservation, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return ForceReleaseResult(
            Reservation.from_proto(response.reservation), response.notice_message_id
        )

    async def list_reservations(
        self,
        *,
        include_inactive: bool = False,
        agent: str = "",
        path: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> Page[Reservation]:
        """Lists the reservations of this agent's project, oldest first.

        Args:
            include_inactive: Include released and expired reservations.
            agent: Only this agent's (name, case-insensitive).
            path: Only reservations whose pattern covers this path.
            page_size: Most reservations to return; 0 means the server default (100). A page
                may be shorter with a ``path`` filter: go on while ``next_page_token`` is set.
            page_token: ``next_page_token`` of the previous page; empty starts at the oldest.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``AGENT_NOT_FOUND`` for an unknown ``agent``.
            InvalidArgument: ``INVALID_PATTERN`` for a bad ``path``, ``INVALID_PAGE_TOKEN``.
        """
        request = pb.ListReservationsRequest(
            include_inactive=include_inactive,
            agent=agent,
            path=path,
            page_size=page_size,
            page_token=page_token,
        )
        stub = self._connection.reservations
        response = await self._call(stub.ListReservations, request, CallKind.READ, timeout)
        return Page(
            tuple(Reservation.from_proto(r) for r in response.reservations),
            response.next_page_token,
        )
