"""The commit feed's event: what one storage transaction made durable.

Storage publishes one :class:`Commit` per transaction that changed something, after it is
durable and in commit order; the hub, the archive projector and the metrics consume it. Each
kind of change has its own typed field, so a consumer reads the field it cares about instead of
filtering a list of results by type; coordination events (reservations, contacts, ...) will get
fields of their own the same way.
"""

from __future__ import annotations

import dataclasses

from agentmail_server.domain.drafts import Sent
from agentmail_server.domain.models import Agent, DeliveryState, Project
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.reservations import Reservation


@dataclasses.dataclass(frozen=True, slots=True)
class AgentChange:
    """An agent registered (``created``) or whose profile changed."""

    agent: Agent
    created: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Receipts:
    """Read (and, when ``acknowledged``, acknowledgement) marks one agent set on its mail."""

    agent_id: int
    states: tuple[DeliveryState, ...]
    acknowledged: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Commit:
    """Everything one transaction committed, each kind in commit order.

    Attributes:
        messages: new messages with their recipients (never a deduplicated send).
        deduplicated_sends: sends answered by an earlier message with the same idempotency key.
        projects: projects created.
        agents: registrations and profile changes.
        receipts: read and acknowledgement marks.
        reservations: reservations granted, extended, renewed or released, as they are now.
        notices: coordination events stored for one agent each (pushed on its stream).
        remote: committed by another process sharing the database (a backend that several
            processes share publishes their messages and notices too, read back from storage,
            so its subscribers see them); counters of this process's own work skip these.
    """

    messages: tuple[Sent, ...] = ()
    deduplicated_sends: int = 0
    projects: tuple[Project, ...] = ()
    agents: tuple[AgentChange, ...] = ()
    receipts: tuple[Receipts, ...] = ()
    reservations: tuple[Reservation, ...] = ()
    notices: tuple[Notice, ...] = ()
    remote: bool = False


class CommitBuilder:
    """Collects the changes of one transaction's operations into a :class:`Commit`."""

    __slots__ = (
        "agents",
        "deduplicated_sends",
        "messages",
        "notices",
        "projects",
        "receipts",
        "reservations",
    )

    def __init__(self) -> None:
        self.messages: list[Sent] = []
        self.deduplicated_sends = 0
        self.projects: list[Project] = []
        self.agents: list[AgentChange] = []
        self.receipts: list[Receipts] = []
        self.reservations: list[Reservation] = []
        self.notices: list[Notice] = []

    def sent(self, sent: Sent) -> None:
        """Record a send: a new message, or a deduplicated one (counted only)."""
        if sent.deduplicated:
            self.deduplicated_sends += 1
        else:
            self.messages.append(sent)

    def build(self) -> Commit | None:
        """The commit, or None when nothing was recorded."""
        if not (
            self.messages
            or self.deduplicated_sends
            or self.projects
            or self.agents
            or self.receipts
            or self.reservations
            or self.notices
        ):
            return None
        return Commit(
            messages=tuple(self.messages),
            deduplicated_sends=self.deduplicated_sends,
            projects=tuple(self.projects),
            agents=tuple(self.agents),
            receipts=tuple(self.receipts),
            reservations=tuple(self.reservations),
            notices=tuple(self.notices),
        )
