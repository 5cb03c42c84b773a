"""Coordination events ("notices") for one agent, pushed on its inbox stream.

A notice is stored for one agent at a *position* taken from the same sequence as message ids,
so an agent's stream is one commit-ordered sequence of mail and notices and one cursor covers
both: resuming after a cursor skips and repeats neither. The detail is one of three frozen
dataclasses; storage keeps it as a small JSON object tagged with its type (see
:func:`encode_detail`), so that adding a field never needs a schema migration.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any


class ContactNoticeKind(enum.IntEnum):
    """What happened to a contact link (values are the proto's ContactEvent.Kind)."""

    REQUESTED = 1
    APPROVED = 2
    BLOCKED = 3


class ReservationNoticeKind(enum.IntEnum):
    """What happened to a reservation (values are the proto's ReservationEvent.Kind)."""

    CONFLICT = 1
    FORCE_RELEASED = 2
    EXPIRING = 3
    RELEASED = 4


@dataclasses.dataclass(frozen=True, slots=True)
class AckNotice:
    """``by_agent`` acknowledged the subscriber's message ``message_id`` at ``ack_time``."""

    message_id: int
    subject: str
    by_agent: str
    ack_time: int


@dataclasses.dataclass(frozen=True, slots=True)
class ContactNotice:
    """A contact request from ``from_agent`` to ``to_agent``, or the answer to one."""

    kind: ContactNoticeKind
    from_agent: str
    to_agent: str
    reason: str
    expires_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class ReservationNotice:
    """Something happened to the subscriber's reservation ``reservation_id``."""

    kind: ReservationNoticeKind
    reservation_id: int
    pattern: str
    exclusive: bool
    expires_at: int
    other_agent: str
    reason: str


NoticeDetail = AckNotice | ContactNotice | ReservationNotice


@dataclasses.dataclass(frozen=True, slots=True)
class Notice:
    """A notice stored for ``agent_id`` at ``position`` in its inbox stream."""

    agent_id: int
    position: int
    created_at: int
    detail: NoticeDetail


_TYPES: dict[str, type[AckNotice] | type[ContactNotice] | type[ReservationNotice]] = {
    "ack": AckNotice,
    "contact": ContactNotice,
    "reservation": ReservationNotice,
}
_TAGS = {cls: tag for tag, cls in _TYPES.items()}


def encode_detail(detail: NoticeDetail) -> tuple[str, str]:
    """The stored form of a detail: its type tag and a JSON object of its fields."""
    fields = {f.name: getattr(detail, f.name) for f in dataclasses.fields(detail)}
    return _TAGS[type(detail)], json.dumps(fields, separators=(",", ":"))


def decode_detail(tag: str, payload: str) -> NoticeDetail:
    """The detail :func:`encode_detail` stored.

    Raises:
        ValueError: an unknown tag (a newer server's notice kind) or fields that do not fit.
    """
    cls = _TYPES.get(tag)
    if cls is None:
        raise ValueError(f"unknown notice type {tag!r}")
    fields: dict[str, Any] = json.loads(payload)
    if cls is ContactNotice:
        fields["kind"] = ContactNoticeKind(fields["kind"])
    elif cls is ReservationNotice:
        fields["kind"] = ReservationNoticeKind(fields["kind"])
    return cls(**fields)
