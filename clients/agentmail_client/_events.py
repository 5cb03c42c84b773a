"""Coordination events as a subscription delivers them: frozen, protobuf-free models.

A subscription opened with ``include_events=True`` yields these between inbox items, in commit
order; each carries a cursor of the same kind as an item's, so saving it resumes after it.
Unknown kinds from a newer server arrive as :class:`AgentEvent` with ``detail`` ``None``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from agentmail.v1 import events_pb2

from ._models import _time


class ContactEventKind(enum.Enum):
    """What happened to a contact link."""

    REQUESTED = "requested"
    APPROVED = "approved"
    BLOCKED = "blocked"


class ReservationEventKind(enum.Enum):
    """What happened to one of the subscriber's reservations."""

    CONFLICT = "conflict"
    FORCE_RELEASED = "force_released"
    EXPIRING = "expiring"
    RELEASED = "released"


_CONTACT_KINDS = {
    events_pb2.ContactEvent.KIND_REQUESTED: ContactEventKind.REQUESTED,
    events_pb2.ContactEvent.KIND_APPROVED: ContactEventKind.APPROVED,
    events_pb2.ContactEvent.KIND_BLOCKED: ContactEventKind.BLOCKED,
}
_RESERVATION_KINDS = {
    events_pb2.ReservationEvent.KIND_CONFLICT: ReservationEventKind.CONFLICT,
    events_pb2.ReservationEvent.KIND_FORCE_RELEASED: ReservationEventKind.FORCE_RELEASED,
    events_pb2.ReservationEvent.KIND_EXPIRING: ReservationEventKind.EXPIRING,
    events_pb2.ReservationEvent.KIND_RELEASED: ReservationEventKind.RELEASED,
}


@dataclasses.dataclass(frozen=True)
class AcknowledgementEvent:
    """A recipient acknowledged a message the subscriber sent.

    Attributes:
        message_id: The acknowledged message.
        subject: Its subject.
        acknowledged_by: The recipient that acknowledged it.
        ack_time: When (the first acknowledgement wins).
    """

    message_id: int
    subject: str
    acknowledged_by: str
    ack_time: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class ContactEvent:
    """A contact request to the subscriber, or the answer to one of its requests.

    Attributes:
        kind: Requested, approved or blocked; ``None`` for a kind this client does not know.
        from_agent: The agent that asked for contact.
        to_agent: The agent asked.
        reason: The requester's reason (requests only).
        expire_time: When the request or approval lapses; ``None`` for a block.
    """

    kind: ContactEventKind | None
    from_agent: str
    to_agent: str
    reason: str
    expire_time: datetime.datetime | None


@dataclasses.dataclass(frozen=True)
class ReservationEvent:
    """Something happened to one of the subscriber's file reservations.

    Attributes:
        kind: Conflict, force-released, expiring or released; ``None`` when unknown.
        reservation_id: The reservation.
        pattern: Its normalised pattern.
        exclusive: Whether it is exclusive.
        expire_time: When it expires (or expired).
        other_agent: The other agent involved (``operator:...`` when an operator
            force-released the reservation), or ``""``.
        reason: The other agent's stated reason, or ``""``.
    """

    kind: ReservationEventKind | None
    reservation_id: int
    pattern: str
    exclusive: bool
    expire_time: datetime.datetime | None
    other_agent: str
    reason: str


EventDetail = AcknowledgementEvent | ContactEvent | ReservationEvent


@dataclasses.dataclass(frozen=True)
class AgentEvent:
    """One coordination event for the subscriber.

    Attributes:
        cursor: Resume strictly after this event (the same kind of cursor as an item's).
        create_time: When the event was recorded.
        detail: What happened; ``None`` for an event kind this client does not know.
    """

    cursor: str
    create_time: datetime.datetime | None
    detail: EventDetail | None

    @classmethod
    def from_proto(cls, pb: events_pb2.AgentEvent) -> AgentEvent:
        """Converts from the wire message."""
        detail: EventDetail | None = None
        which = pb.WhichOneof("detail")
        if which == "acknowledgement":
            ack = pb.acknowledgement
            detail = AcknowledgementEvent(
                message_id=ack.message_id,
                subject=ack.subject,
                acknowledged_by=ack.acknowledged_by,
                ack_time=_time(ack.ack_time, ack.HasField("ack_time")),
            )
        elif which == "contact":
            contact = pb.contact
            detail = ContactEvent(
                kind=_CONTACT_KINDS.get(contact.kind),
                from_agent=contact.from_agent,
                to_agent=contact.to_agent,
                reason=contact.reason,
                expire_time=_time(contact.expire_time, contact.HasField("expire_time")),
            )
        elif which == "reservation":
            res = pb.reservation
            detail = ReservationEvent(
                kind=_RESERVATION_KINDS.get(res.kind),
                reservation_id=res.reservation_id,
                pattern=res.pattern,
                exclusive=res.exclusive,
                expire_time=_time(res.expire_time, res.HasField("expire_time")),
                other_agent=res.other_agent,
                reason=res.reason,
            )
        return cls(
            cursor=pb.cursor,
            create_time=_time(pb.create_time, pb.HasField("create_time")),
            detail=detail,
        )
