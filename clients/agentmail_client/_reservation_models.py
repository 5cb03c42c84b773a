"""Frozen models of file reservations and their conflicts, and their wire conversion.

They follow :mod:`._models`: timestamps are timezone-aware UTC datetimes (``None`` when unset)
and repeated fields are tuples, so that every model is hashable and safe to share.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from agentmail.v1 import reservation_service_pb2 as pb

from ._models import _time


class ReserveMode(enum.Enum):
    """How :meth:`~agentmail_client.AgentmailClient.reserve_paths` treats conflicts."""

    DEFAULT = "default"
    """Grant the patterns without a conflict; report the conflicts of the others."""
    ALL_OR_NOTHING = "all_or_nothing"
    """Grant nothing when any pattern conflicts."""
    ADVISORY = "advisory"
    """Grant everything and only report the conflicts."""

    def to_proto(self) -> pb.ReserveMode.ValueType:
        """Returns the wire value."""
        return _MODE_TO_PROTO[self]


_MODE_TO_PROTO = {
    ReserveMode.DEFAULT: pb.RESERVE_MODE_DEFAULT,
    ReserveMode.ALL_OR_NOTHING: pb.RESERVE_MODE_ALL_OR_NOTHING,
    ReserveMode.ADVISORY: pb.RESERVE_MODE_ADVISORY,
}


@dataclasses.dataclass(frozen=True)
class Reservation:
    """An agent's lease on a path or pattern.

    Attributes:
        id: Server-assigned id (for renew, release and force-release).
        project: Slug of the project.
        agent: Name of the holder.
        pattern: The pattern as stored (normalised: ``/`` separators, no leading ``./``).
        exclusive: True for an exclusive reservation, False for a shared one.
        reason: Why the holder reserved it.
        create_time: When it was first granted.
        expire_time: When it expires (or expired).
        release_time: When it was released, or ``None``.
        released_by: Who released it: the holder, a force-releasing agent,
            ``operator:token`` or ``operator:certificate:<CN>`` for an operator, or empty
            when it expired or its holder retired.
        release_reason: Empty for a release by the holder, ``"expired"``, or the reason given
            to a force-release.
        active: Whether it held when the server answered.
    """

    id: int
    project: str
    agent: str
    pattern: str
    exclusive: bool
    reason: str = ""
    create_time: datetime.datetime | None = None
    expire_time: datetime.datetime | None = None
    release_time: datetime.datetime | None = None
    released_by: str = ""
    release_reason: str = ""
    active: bool = False

    @classmethod
    def from_proto(cls, message: pb.Reservation) -> Reservation:
        """Converts from the wire message."""
        return cls(
            id=message.id,
            project=message.project,
            agent=message.agent,
            pattern=message.pattern,
            exclusive=message.exclusive,
            reason=message.reason,
            create_time=_time(message.create_time, message.HasField("create_time")),
            expire_time=_time(message.expire_time, message.HasField("expire_time")),
            release_time=_time(message.release_time, message.HasField("release_time")),
            released_by=message.released_by,
            release_reason=message.release_reason,
            active=message.active,
        )


@dataclasses.dataclass(frozen=True)
class ReservationHolder:
    """Another agent's reservation that conflicts with a requested pattern.

    Attributes:
        reservation_id: Its id.
        agent: Its holder.
        pattern: Its pattern.
        exclusive: Whether it is exclusive.
        expire_time: When it expires.
    """

    reservation_id: int
    agent: str
    pattern: str
    exclusive: bool
    expire_time: datetime.datetime | None = None

    @classmethod
    def from_proto(cls, message: pb.ReservationHolder) -> ReservationHolder:
        """Converts from the wire message."""
        return cls(
            reservation_id=message.reservation_id,
            agent=message.agent,
            pattern=message.pattern,
            exclusive=message.exclusive,
            expire_time=_time(message.expire_time, message.HasField("expire_time")),
        )


@dataclasses.dataclass(frozen=True)
class Conflict:
    """A requested path or pattern and the reservations it conflicts with.

    Attributes:
        pattern: The requested path or pattern (normalised).
        holders: The conflicting reservations, oldest first.
    """

    pattern: str
    holders: tuple[ReservationHolder, ...]

    @classmethod
    def from_proto(cls, message: pb.Conflict) -> Conflict:
        """Converts from the wire message."""
        return cls(message.pattern, tuple(ReservationHolder.from_proto(h) for h in message.holders))


@dataclasses.dataclass(frozen=True)
class ReservePathsResult:
    """What :meth:`~agentmail_client.AgentmailClient.reserve_paths` returns.

    Attributes:
        granted: The reservations granted (new, or extended in place), in request order.
        conflicts: The requested patterns that conflict, with their holders.
        deduplicated: True when this is the stored result of an earlier call with the same
            idempotency key.
    """

    granted: tuple[Reservation, ...]
    conflicts: tuple[Conflict, ...]
    deduplicated: bool = False


@dataclasses.dataclass(frozen=True)
class CheckConflictsResult:
    """What :meth:`~agentmail_client.AgentmailClient.check_conflicts` returns.

    Attributes:
        conflicts: The paths that conflict, in the order given, with their holders.
        truncated: True when conflicts or holders were left out (at most 100 conflicts of at
            most 20 holders each are returned).
    """

    conflicts: tuple[Conflict, ...]
    truncated: bool = False


@dataclasses.dataclass(frozen=True)
class ForceReleaseResult:
    """What :meth:`~agentmail_client.AgentmailClient.force_release_reservation` returns.

    Attributes:
        reservation: The reservation, now released.
        notice_message_id: Id of the message that told the holder, or 0 when none was sent
            (already released, the caller's own, or an operator's release: told by event).
    """

    reservation: Reservation
    notice_message_id: int
