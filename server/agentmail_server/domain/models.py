"""Domain records shared by storage, services and the rpc layer."""

from __future__ import annotations

import dataclasses
import enum
import time

from agentmail_server.domain.contacts import ContactPolicy


def now_micros() -> int:
    """Wall-clock time in integer microseconds since the epoch (how times are stored)."""
    return time.time_ns() // 1000


class Importance(enum.IntEnum):
    """Message importance; values match the wire enum."""

    LOW = 1
    NORMAL = 2
    HIGH = 3
    URGENT = 4


# Importance values a request may carry: 0 (unspecified) or a defined level.
IMPORTANCE_VALUES = frozenset({0, *Importance})


class RecipientKind(enum.IntEnum):
    """How a recipient was addressed; values match the wire enum. Lower is more visible."""

    TO = 1
    CC = 2
    BCC = 3


@dataclasses.dataclass(frozen=True, slots=True)
class Project:
    """A project: agents that work on the same thing."""

    id: int
    slug: str
    human_key: str
    created_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Agent:
    """A registered agent's public profile."""

    id: int
    project_id: int
    project_slug: str
    name: str
    program: str
    model: str
    task_description: str
    created_at: int
    updated_at: int
    # Presence and lifecycle (schema version 8).
    status: str = ""
    capabilities: tuple[str, ...] = ()
    # None until the presence flusher first writes it: see :attr:`last_active`.
    last_active_at: int | None = None
    retired_at: int | None = None
    # None: the agent follows the server's default policy.
    contact_policy: ContactPolicy | None = None

    @property
    def last_active(self) -> int:
        """When the agent was last active as stored (its registration before any flush)."""
        return self.created_at if self.last_active_at is None else self.last_active_at


@dataclasses.dataclass(frozen=True, slots=True)
class Identity:
    """Who an authenticated call is made by. Immutable for the life of the agent."""

    agent_id: int
    project_id: int
    project_slug: str
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class TokenHolder:
    """The agent a stored token hash belongs to, until when (micros; None: no expiry), and
    the stored hash itself (compared again in constant time by the authenticator)."""

    identity: Identity
    expires_at: int | None
    token_hash: str


@dataclasses.dataclass(frozen=True, slots=True)
class Operator:
    """An authenticated operator: administers every project, reads no mail, is no agent.

    ``label`` says how it authenticated ("token" or "certificate:<CN>"), for logs; it is
    never a secret.
    """

    label: str


# Who makes an authenticated call.
Caller = Identity | Operator


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    """A stored message with every recipient; views for a reader are made by :meth:`seen_by`."""

    id: int
    project_id: int
    sender_id: int
    sender_name: str
    thread_id: str
    subject: str
    body: str | None
    body_size: int
    importance: Importance
    ack_required: bool
    topic: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    bcc: tuple[str, ...]
    created_at: int

    def seen_by(self, viewer_id: int, viewer_name: str, kind: RecipientKind | None) -> Message:
        """The message as ``viewer`` may see it: bcc only for the sender or to itself."""
        if viewer_id == self.sender_id:
            return self
        bcc = (viewer_name,) if kind is RecipientKind.BCC else ()
        if bcc == self.bcc:  # most messages have no bcc: nothing to hide, and replace is slow
            return self
        return dataclasses.replace(self, bcc=bcc)


@dataclasses.dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient's copy of a message and its read/ack state."""

    message_id: int
    kind: RecipientKind
    read_at: int | None
    ack_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class InboxItem:
    """A message in a reader's inbox, already restricted to that reader's view."""

    message: Message
    delivery: Delivery


@dataclasses.dataclass(frozen=True, slots=True)
class DeliveryState:
    """First-wins read and ack times of one message for one recipient."""

    message_id: int
    read_at: int | None
    ack_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class Recipient:
    """A resolved recipient: agent id, display name and how it is addressed."""

    agent_id: int
    name: str
    kind: RecipientKind
