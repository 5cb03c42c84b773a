"""Frozen models of contact policies and links, presence results and broadcast skips."""

from __future__ import annotations

import dataclasses
import datetime
import enum

from agentmail.v1 import mail_service_pb2, types_pb2
from google.protobuf import timestamp_pb2


def _time(message: timestamp_pb2.Timestamp, is_set: bool) -> datetime.datetime | None:
    return message.ToDatetime(tzinfo=datetime.UTC) if is_set else None


def _stamp(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


class ContactPolicy(enum.Enum):
    """Who may send mail to an agent (see the contract's ``ContactPolicy``)."""

    OPEN = "open"
    """Anyone in the project."""
    AUTO = "auto"
    """The default: recent correspondents, approved contacts and a first contact."""
    CONTACTS_ONLY = "contacts_only"
    """Approved, unexpired contacts only."""
    BLOCK_ALL = "block_all"
    """Nobody but the always-allowed (the agent itself, its threads' participants)."""

    @classmethod
    def from_proto(cls, value: types_pb2.ContactPolicy.ValueType) -> ContactPolicy | None:
        """Converts the wire value; None for UNSPECIFIED or a value this client does not know."""
        return _POLICY_FROM_PROTO.get(value)

    def to_proto(self) -> types_pb2.ContactPolicy.ValueType:
        """Returns the wire value."""
        return _POLICY_TO_PROTO[self]


_POLICY_TO_PROTO = {
    ContactPolicy.OPEN: types_pb2.CONTACT_POLICY_OPEN,
    ContactPolicy.AUTO: types_pb2.CONTACT_POLICY_AUTO,
    ContactPolicy.CONTACTS_ONLY: types_pb2.CONTACT_POLICY_CONTACTS_ONLY,
    ContactPolicy.BLOCK_ALL: types_pb2.CONTACT_POLICY_BLOCK_ALL,
}
_POLICY_FROM_PROTO = {wire: member for member, wire in _POLICY_TO_PROTO.items()}


class ContactState(enum.Enum):
    """The state of a contact link as of the call that returned it."""

    PENDING = "pending"
    """Requested, not answered yet."""
    APPROVED = "approved"
    """Approved until its expiry: the two may message each other."""
    BLOCKED = "blocked"
    """Blocked by the target."""
    EXPIRED = "expired"
    """A pending request or an approval past its expiry: it authorises nothing."""
    UNKNOWN = "unknown"
    """A state this client does not know (a newer server)."""

    @classmethod
    def from_proto(cls, value: types_pb2.ContactState.ValueType) -> ContactState:
        """Converts the wire value (UNKNOWN for a value this client does not know)."""
        return _STATE_FROM_PROTO.get(value, cls.UNKNOWN)

    def to_proto(self) -> types_pb2.ContactState.ValueType:
        """Returns the wire value (UNSPECIFIED for UNKNOWN)."""
        return _STATE_TO_PROTO.get(self, types_pb2.CONTACT_STATE_UNSPECIFIED)


_STATE_TO_PROTO = {
    ContactState.PENDING: types_pb2.CONTACT_STATE_PENDING,
    ContactState.APPROVED: types_pb2.CONTACT_STATE_APPROVED,
    ContactState.BLOCKED: types_pb2.CONTACT_STATE_BLOCKED,
    ContactState.EXPIRED: types_pb2.CONTACT_STATE_EXPIRED,
}
_STATE_FROM_PROTO = {wire: member for member, wire in _STATE_TO_PROTO.items()}


@dataclasses.dataclass(frozen=True)
class Contact:
    """A directed contact link: ``from_agent`` asked ``to_agent``, who approves or blocks.

    Attributes:
        from_agent: The requester.
        to_agent: The target.
        state: The state as of the call.
        reason: The requester's reason (``first contact`` for a link a first send opened).
        expire_time: When a pending request or an approval lapses; None for a block.
        create_time: When the link was created.
        update_time: When it last changed.
    """

    from_agent: str
    to_agent: str
    state: ContactState
    reason: str = ""
    expire_time: datetime.datetime | None = None
    create_time: datetime.datetime | None = None
    update_time: datetime.datetime | None = None

    @classmethod
    def from_proto(cls, pb: types_pb2.Contact) -> Contact:
        """Converts from the wire message."""
        return cls(
            from_agent=pb.from_agent,
            to_agent=pb.to_agent,
            state=ContactState.from_proto(pb.state),
            reason=pb.reason,
            expire_time=_time(pb.expire_time, pb.HasField("expire_time")),
            create_time=_time(pb.create_time, pb.HasField("create_time")),
            update_time=_time(pb.update_time, pb.HasField("update_time")),
        )

    def to_proto(self) -> types_pb2.Contact:
        """Converts to the wire message."""
        return types_pb2.Contact(
            from_agent=self.from_agent,
            to_agent=self.to_agent,
            state=self.state.to_proto(),
            reason=self.reason,
            expire_time=_stamp(self.expire_time),
            create_time=_stamp(self.create_time),
            update_time=_stamp(self.update_time),
        )


@dataclasses.dataclass(frozen=True)
class RequestContactResult:
    """What :meth:`~agentmail_client.AgentmailClient.request_contact` returns.

    Attributes:
        contact: The link from the caller to the target.
        notified: True when this call told the target (by mail and an event).
    """

    contact: Contact
    notified: bool


@dataclasses.dataclass(frozen=True)
class SkippedRecipient:
    """An agent a broadcast left out, and why.

    Attributes:
        name: The agent's name.
        reason: ``AGENT_RETIRED``, ``IDLE``, ``CONTACT_REQUIRED`` or ``CONTACT_BLOCKED``.
    """

    name: str
    reason: str

    @classmethod
    def from_proto(cls, pb: mail_service_pb2.SkippedRecipient) -> SkippedRecipient:
        """Converts from the wire message."""
        return cls(pb.name, pb.reason)

    def to_proto(self) -> mail_service_pb2.SkippedRecipient:
        """Converts to the wire message."""
        return mail_service_pb2.SkippedRecipient(name=self.name, reason=self.reason)
