"""Frozen, protobuf-free models of what the service returns, and their wire conversion.

Timestamps are timezone-aware UTC :class:`~datetime.datetime` values, or ``None`` where the
wire field is unset (for example ``read_time`` of an unread message). Repeated fields become
tuples so that every model is hashable and safe to share.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
from collections.abc import Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

from agentmail.v1 import mail_service_pb2, types_pb2
from google.protobuf import timestamp_pb2

from ._contact_models import ContactPolicy, SkippedRecipient

if TYPE_CHECKING:
    from ._receipt_models import Receipt

T = TypeVar("T")


class Importance(enum.Enum):
    """How much attention a message asks for."""

    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @classmethod
    def from_proto(cls, value: types_pb2.Importance.ValueType) -> Importance:
        """Converts the wire value; UNSPECIFIED reads as NORMAL, as the server treats it."""
        return _IMPORTANCE_FROM_PROTO.get(value, cls.NORMAL)

    def to_proto(self) -> types_pb2.Importance.ValueType:
        """Returns the wire value."""
        return _IMPORTANCE_TO_PROTO[self]


_IMPORTANCE_TO_PROTO = {
    Importance.LOW: types_pb2.IMPORTANCE_LOW,
    Importance.NORMAL: types_pb2.IMPORTANCE_NORMAL,
    Importance.HIGH: types_pb2.IMPORTANCE_HIGH,
    Importance.URGENT: types_pb2.IMPORTANCE_URGENT,
}
_IMPORTANCE_FROM_PROTO = {wire: member for member, wire in _IMPORTANCE_TO_PROTO.items()}


class RecipientKind(enum.Enum):
    """How a recipient was addressed."""

    TO = "to"
    CC = "cc"
    BCC = "bcc"

    @classmethod
    def from_proto(cls, value: types_pb2.RecipientKind.ValueType) -> RecipientKind:
        """Converts the wire value; an unset kind reads as TO, the most visible one."""
        return _KIND_FROM_PROTO.get(value, cls.TO)

    def to_proto(self) -> types_pb2.RecipientKind.ValueType:
        """Returns the wire value."""
        return _KIND_TO_PROTO[self]


_KIND_TO_PROTO = {
    RecipientKind.TO: types_pb2.RECIPIENT_KIND_TO,
    RecipientKind.CC: types_pb2.RECIPIENT_KIND_CC,
    RecipientKind.BCC: types_pb2.RECIPIENT_KIND_BCC,
}
_KIND_FROM_PROTO = {wire: member for member, wire in _KIND_TO_PROTO.items()}


class InboxOrder(enum.Enum):
    """Order of an inbox page."""

    OLDEST_FIRST = "oldest_first"
    """Oldest first, continuing strictly after the page token: process every message once."""
    NEWEST_FIRST = "newest_first"
    """Newest first: show the latest."""

    def to_proto(self) -> mail_service_pb2.InboxOrder.ValueType:
        """Returns the wire value."""
        if self is InboxOrder.NEWEST_FIRST:
            return mail_service_pb2.INBOX_ORDER_NEWEST_FIRST
        return mail_service_pb2.INBOX_ORDER_OLDEST_FIRST


def _time(message: timestamp_pb2.Timestamp, is_set: bool) -> datetime.datetime | None:
    return message.ToDatetime(tzinfo=datetime.UTC) if is_set else None


def _view(include_bodies: bool) -> types_pb2.MessageView.ValueType:
    # The wire's default (unspecified) is FULL; the client says what it wants either way.
    return types_pb2.MESSAGE_VIEW_FULL if include_bodies else types_pb2.MESSAGE_VIEW_ENVELOPE


def _stamp(value: datetime.datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


@dataclasses.dataclass(frozen=True)
class Project:
    """A project: agents working on the same thing, such as one repository.

    Attributes:
        slug: Stable URL-safe identifier, used to name the project in other calls.
        human_key: The key the project was ensured with, e.g. an absolute repository path.
        create_time: When the project was created.
    """

    slug: str
    human_key: str
    create_time: datetime.datetime | None = None

    @classmethod
    def from_proto(cls, pb: types_pb2.Project) -> Project:
        """Converts from the wire message."""
        return cls(pb.slug, pb.human_key, _time(pb.create_time, pb.HasField("create_time")))

    def to_proto(self) -> types_pb2.Project:
        """Converts to the wire message."""
        return types_pb2.Project(
            slug=self.slug, human_key=self.human_key, create_time=_stamp(self.create_time)
        )


@dataclasses.dataclass(frozen=True)
class Agent:
    """An agent's public profile (never its token).

    Attributes:
        project: Slug of the agent's project.
        name: Display name, with the case it was first registered with.
        program: The program driving the agent, e.g. ``claude-code``.
        model: The model behind the agent.
        task_description: What the agent is working on.
        create_time: When the agent was registered.
        update_time: When its profile last changed.
        status: Its published status line (empty when none).
        capabilities: What it does or can do, e.g. ``("reviewer", "python")``.
        last_active_time: When it last made an authenticated call (may trail by a few
            seconds: the server writes these in batches).
        retired: Whether it is retired (receives nothing).
        retire_time: When it was retired; None while not retired.
        contact_policy: Who may message it (None only from a server that does not say).
    """

    project: str
    name: str
    program: str = ""
    model: str = ""
    task_description: str = ""
    create_time: datetime.datetime | None = None
    update_time: datetime.datetime | None = None
    status: str = ""
    capabilities: tuple[str, ...] = ()
    last_active_time: datetime.datetime | None = None
    retired: bool = False
    retire_time: datetime.datetime | None = None
    contact_policy: ContactPolicy | None = None

    @classmethod
    def from_proto(cls, pb: types_pb2.Agent) -> Agent:
        """Converts from the wire message."""
        return cls(
            project=pb.project,
            name=pb.name,
            program=pb.program,
            model=pb.model,
            task_description=pb.task_description,
            create_time=_time(pb.create_time, pb.HasField("create_time")),
            update_time=_time(pb.update_time, pb.HasField("update_time")),
            status=pb.status,
            capabilities=tuple(pb.capabilities),
            last_active_time=_time(pb.last_active_time, pb.HasField("last_active_time")),
            retired=pb.retired,
            retire_time=_time(pb.retire_time, pb.HasField("retire_time")),
            contact_policy=ContactPolicy.from_proto(pb.contact_policy),
        )

    def to_proto(self) -> types_pb2.Agent:
        """Converts to the wire message."""
        policy = self.contact_policy
        return types_pb2.Agent(
            project=self.project,
            name=self.name,
            program=self.program,
            model=self.model,
            task_description=self.task_description,
            create_time=_stamp(self.create_time),
            update_time=_stamp(self.update_time),
            status=self.status,
            capabilities=self.capabilities,
            last_active_time=_stamp(self.last_active_time),
            retired=self.retired,
            retire_time=_stamp(self.retire_time),
            contact_policy=policy.to_proto() if policy else types_pb2.CONTACT_POLICY_UNSPECIFIED,
        )


@dataclasses.dataclass(frozen=True)
class Message:
    """A message as the caller may see it.

    Only the sender sees every bcc recipient; a bcc recipient sees just itself in ``bcc`` and
    to/cc recipients see an empty ``bcc``.

    Attributes:
        id: Server-assigned id; ids grow in commit order across the server.
        project: Slug of the project the message was sent in.
        thread_id: Thread of the message; a thread starter has ``str(id)``.
        sender: Name of the sending agent.
        to: Display names of the direct recipients.
        cc: Display names of the copied recipients.
        bcc: Blind-copied recipients visible to the caller.
        subject: The subject line.
        body: Markdown body; empty when the call asked for no bodies.
        importance: How much attention the message asks for.
        ack_required: Whether recipients are asked to acknowledge it.
        topic: Free-form topic for filtering, or empty.
        create_time: When the message was committed.
        body_size_bytes: UTF-8 size of the body, set even when the body is left out.
    """

    id: int
    project: str
    thread_id: str
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    subject: str
    body: str
    importance: Importance
    ack_required: bool
    topic: str
    create_time: datetime.datetime | None
    body_size_bytes: int

    @classmethod
    def from_proto(cls, pb: types_pb2.Message) -> Message:
        """Converts from the wire message."""
        return cls(
            id=pb.id,
            project=pb.project,
            thread_id=pb.thread_id,
            sender=pb.sender,
            to=tuple(pb.to),
            cc=tuple(pb.cc),
            bcc=tuple(pb.bcc),
            subject=pb.subject,
            body=pb.body,
            importance=Importance.from_proto(pb.importance),
            ack_required=pb.ack_required,
            topic=pb.topic,
            create_time=_time(pb.create_time, pb.HasField("create_time")),
            body_size_bytes=pb.body_size_bytes,
        )

    def to_proto(self) -> types_pb2.Message:
        """Converts to the wire message."""
        return types_pb2.Message(
            id=self.id,
            project=self.project,
            thread_id=self.thread_id,
            sender=self.sender,
            to=self.to,
            cc=self.cc,
            bcc=self.bcc,
            subject=self.subject,
            body=self.body,
            importance=self.importance.to_proto(),
            ack_required=self.ack_required,
            topic=self.topic,
            create_time=_stamp(self.create_time),
            body_size_bytes=self.body_size_bytes,
        )


@dataclasses.dataclass(frozen=True)
class InboxItem:
    """One message in the caller's inbox, with the caller's own delivery state.

    Attributes:
        message: The message as the caller sees it.
        kind: How the caller was addressed.
        read_time: When the caller first marked it read, or ``None`` while unread.
        ack_time: When the caller first acknowledged it, or ``None``.
        cursor: Opaque inbox position, valid for this agent only (and across server
            restarts); pass it as ``page_token`` of an OLDEST_FIRST
            :meth:`~agentmail_client.AgentmailClient.list_inbox`, or as a ``cursor``, to
            continue after this item. Compare cursors for equality only, never for order.
    """

    message: Message
    kind: RecipientKind
    read_time: datetime.datetime | None
    ack_time: datetime.datetime | None
    cursor: str

    @property
    def is_read(self) -> bool:
        """Whether the caller has marked the message read (acknowledging also reads it)."""
        return self.read_time is not None

    @property
    def is_acknowledged(self) -> bool:
        """Whether the caller has acknowledged the message."""
        return self.ack_time is not None

    @classmethod
    def from_proto(cls, pb: types_pb2.InboxItem) -> InboxItem:
        """Converts from the wire message."""
        return cls(
            message=Message.from_proto(pb.message),
            kind=RecipientKind.from_proto(pb.kind),
            read_time=_time(pb.read_time, pb.HasField("read_time")),
            ack_time=_time(pb.ack_time, pb.HasField("ack_time")),
            cursor=pb.cursor,
        )

    def to_proto(self) -> types_pb2.InboxItem:
        """Converts to the wire message."""
        return types_pb2.InboxItem(
            message=self.message.to_proto(),
            kind=self.kind.to_proto(),
            read_time=_stamp(self.read_time),
            ack_time=_stamp(self.ack_time),
            cursor=self.cursor,
        )


@dataclasses.dataclass(frozen=True)
class DeliveryState:
    """The first-wins read and acknowledgement times of one received message.

    Attributes:
        message_id: The message.
        read_time: When it was first marked read, or ``None``.
        ack_time: When it was first acknowledged, or ``None``.
    """

    message_id: int
    read_time: datetime.datetime | None
    ack_time: datetime.datetime | None

    @classmethod
    def from_proto(cls, pb: mail_service_pb2.DeliveryState) -> DeliveryState:
        """Converts from the wire message."""
        return cls(
            message_id=pb.message_id,
            read_time=_time(pb.read_time, pb.HasField("read_time")),
            ack_time=_time(pb.ack_time, pb.HasField("ack_time")),
        )

    def to_proto(self) -> mail_service_pb2.DeliveryState:
        """Converts to the wire message."""
        return mail_service_pb2.DeliveryState(
            message_id=self.message_id,
            read_time=_stamp(self.read_time),
            ack_time=_stamp(self.ack_time),
        )


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing.

    Iterating a page iterates its items. Pass ``next_page_token`` back as ``page_token`` to get
    the next page. It is empty at the end of a listing, except for an OLDEST_FIRST inbox,
    where it is set after every non-empty page so that a consumer can resume later; there the
    end is an empty page.

    Attributes:
        items: The page's items, in listing order.
        next_page_token: Token of the next page, or empty.
    """

    items: tuple[T, ...]
    next_page_token: str

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)


@dataclasses.dataclass(frozen=True)
class EnsureProjectResult:
    """What :meth:`~agentmail_client.AgentmailClient.ensure_project` returns.

    Attributes:
        project: The project of the human key.
        created: True when this call created it.
    """

    project: Project
    created: bool


@dataclasses.dataclass(frozen=True)
class RevokedTokens:
    """What :meth:`~agentmail_client.AgentmailClient.revoke_tokens` returns.

    Attributes:
        revoked: How many tokens stopped working.
        token: The agent's new token when one was asked for (shown this once), else ``None``.
    """

    revoked: int
    token: str | None = dataclasses.field(repr=False)


@dataclasses.dataclass(frozen=True)
class RegisterAgentResult:
    """What :meth:`~agentmail_client.AgentmailClient.register_agent` returns.

    Attributes:
        agent: The agent's profile.
        token: The agent's secret bearer token; the server keeps only its hash, so keep it.
        created: True when this call created the agent, False when it re-registered it.
    """

    agent: Agent
    token: str = dataclasses.field(repr=False)
    created: bool


@dataclasses.dataclass(frozen=True)
class SendMessageResult:
    """What a send or reply returns.

    Attributes:
        message: The message as the sender sees it, bcc included.
        deduplicated: True when an earlier send with the same idempotency key was returned.
        skipped: The agents a broadcast left out, each with why (empty otherwise).
    """

    message: Message
    deduplicated: bool
    skipped: tuple[SkippedRecipient, ...] = ()


@dataclasses.dataclass(frozen=True)
class GetMessageResult:
    """What :meth:`~agentmail_client.AgentmailClient.get_message` returns.

    Attributes:
        message: The message as the caller sees it.
        delivery: The caller's delivery state when the caller is a recipient, else ``None``.
        receipts: When the caller sent it, each recipient's receipt (bcc included), in the
            order of to, then cc, then bcc; empty when the caller only received it.
    """

    message: Message
    delivery: InboxItem | None
    receipts: tuple[Receipt, ...] = ()
