"""ReservationService over gRPC: authenticate, check the wire, convert, delegate."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import reservation_service_pb2 as pb
from agentmail.v1 import reservation_service_pb2_grpc

from agentmail_server.domain.reservations import Conflict, Reservation
from agentmail_server.rpc import wire
from agentmail_server.rpc.authorization import Gate
from agentmail_server.rpc.convert import timestamp
from agentmail_server.services.reservations import Reservations, ReserveCall

_M = "/agentmail.v1.ReservationService/"  # method names in the authorisation table
Context = Any  # grpc.aio.ServicerContext; the generated base class types it loosely


class ReservationServicer(reservation_service_pb2_grpc.ReservationServiceServicer):
    """File reservations of the caller's project."""

    def __init__(self, reservations: Reservations, gate: Gate) -> None:
        self._reservations = reservations
        self._gate = gate
        self._now = reservations.now

    async def ReservePaths(
        self, request: pb.ReservePathsRequest, context: Context
    ) -> pb.ReservePathsResponse:
        caller = await self._gate.agent(context, _M + "ReservePaths")
        wire.check_request(request)
        reserved = await self._reservations.reserve(
            caller,
            ReserveCall(
                paths=list(request.paths),
                shared=request.shared,
                ttl_seconds=request.ttl_seconds,
                reason=request.reason,
                idempotency_key=request.idempotency_key,
                mode=request.mode,
            ),
        )
        now = self._now()
        return pb.ReservePathsResponse(
            granted=[reservation_pb(r, caller.project_slug, now) for r in reserved.granted],
            conflicts=[conflict_pb(c) for c in reserved.conflicts],
            deduplicated=reserved.deduplicated,
        )

    async def CheckConflicts(
        self, request: pb.CheckConflictsRequest, context: Context
    ) -> pb.CheckConflictsResponse:
        caller = await self._gate.agent(context, _M + "CheckConflicts")
        conflicts, truncated = await self._reservations.check_conflicts(
            caller, list(request.paths), include_shared=request.include_shared
        )
        return pb.CheckConflictsResponse(
            conflicts=[conflict_pb(c) for c in conflicts], truncated=truncated
        )

    async def RenewReservations(
        self, request: pb.RenewReservationsRequest, context: Context
    ) -> pb.RenewReservationsResponse:
        caller = await self._gate.agent(context, _M + "RenewReservations")
        renewed = await self._reservations.renew(
            caller, list(request.ids), list(request.patterns), request.extend_seconds
        )
        now = self._now()
        return pb.RenewReservationsResponse(
            renewed=[reservation_pb(r, caller.project_slug, now) for r in renewed]
        )

    async def ReleaseReservations(
        self, request: pb.ReleaseReservationsRequest, context: Context
    ) -> pb.ReleaseReservationsResponse:
        caller = await self._gate.agent(context, _M + "ReleaseReservations")
        released = await self._reservations.release(
            caller, list(request.ids), list(request.patterns), request.all
        )
        now = self._now()
        return pb.ReleaseReservationsResponse(
            released=[reservation_pb(r, caller.project_slug, now) for r in released]
        )

    async def ForceReleaseReservation(
        self, request: pb.ForceReleaseReservationRequest, context: Context
    ) -> pb.ForceReleaseReservationResponse:
        caller = await self._gate.agent(context, _M + "ForceReleaseReservation")
        reservation, sent = await self._reservations.force_release(
            caller, request.id, request.reason
        )
        return pb.ForceReleaseReservationResponse(
            reservation=reservation_pb(reservation, caller.project_slug, self._now()),
            notice_message_id=sent.message.id if sent is not None else 0,
        )

    async def ListReservations(
        self, request: pb.ListReservationsRequest, context: Context
    ) -> pb.ListReservationsResponse:
        caller = await self._gate.agent(context, _M + "ListReservations")
        found, token = await self._reservations.list(
            caller,
            include_inactive=request.include_inactive,
            agent=request.agent,
            path=request.path,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        now = self._now()
        return pb.ListReservationsResponse(
            reservations=[reservation_pb(r, caller.project_slug, now) for r in found],
            next_page_token=token,
        )


def reservation_pb(reservation: Reservation, project_slug: str, now: int) -> pb.Reservation:
    """Wire form of a reservation, with ``active`` decided at ``now``."""
    return pb.Reservation(
        id=reservation.id,
        project=project_slug,
        agent=reservation.agent_name,
        pattern=reservation.pattern,
        exclusive=reservation.exclusive,
        reason=reservation.reason,
        create_time=timestamp(reservation.created_at),
        expire_time=timestamp(reservation.expires_at),
        release_time=timestamp(reservation.released_at),
        released_by=reservation.released_by,
        release_reason=reservation.release_reason,
        active=reservation.active_at(now),
    )


def conflict_pb(conflict: Conflict) -> pb.Conflict:
    """Wire form of a conflict and its holders."""
    return pb.Conflict(
        pattern=conflict.pattern,
        holders=[
            pb.ReservationHolder(
                reservation_id=h.reservation_id,
                agent=h.agent_name,
                pattern=h.pattern,
                exclusive=h.exclusive,
                expire_time=timestamp(h.expires_at),
            )
            for h in conflict.holders
        ],
    )
