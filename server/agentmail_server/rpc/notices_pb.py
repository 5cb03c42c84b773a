"""Notices (coordination events) to their ``AgentEvent`` protobuf form."""

from __future__ import annotations

from agentmail.v1 import events_pb2

from agentmail_server.domain.notices import AckNotice, ContactNotice, Notice, ReservationNotice
from agentmail_server.rpc import convert


def agent_event_pb(notice: Notice, cursor: str) -> events_pb2.AgentEvent:
    """The event as the subscriber receives it, resumable after ``cursor``."""
    event = events_pb2.AgentEvent(cursor=cursor, create_time=convert.timestamp(notice.created_at))
    detail = notice.detail
    if isinstance(detail, AckNotice):
        event.acknowledgement.CopyFrom(
            events_pb2.AcknowledgementEvent(
                message_id=detail.message_id,
                subject=detail.subject,
                acknowledged_by=detail.by_agent,
                ack_time=convert.timestamp(detail.ack_time),
            )
        )
    elif isinstance(detail, ContactNotice):
        event.contact.CopyFrom(
            events_pb2.ContactEvent(
                kind=events_pb2.ContactEvent.Kind.ValueType(int(detail.kind)),
                from_agent=detail.from_agent,
                to_agent=detail.to_agent,
                reason=detail.reason,
                expire_time=convert.timestamp(detail.expires_at),
            )
        )
    elif isinstance(detail, ReservationNotice):
        event.reservation.CopyFrom(
            events_pb2.ReservationEvent(
                kind=events_pb2.ReservationEvent.Kind.ValueType(int(detail.kind)),
                reservation_id=detail.reservation_id,
                pattern=detail.pattern,
                exclusive=detail.exclusive,
                expire_time=convert.timestamp(detail.expires_at),
                other_agent=detail.other_agent,
                reason=detail.reason,
            )
        )
    return event
