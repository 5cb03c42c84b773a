"""The read ports: reservations, mail, receipts and search.

The invariants they keep are listed in :mod:`agentmail_server.storage.ports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from agentmail_server.domain.contacts import ContactLink
from agentmail_server.domain.filters import AgentFilter, InboxFilter, SearchFilter
from agentmail_server.domain.inbox_rows import InboxRow
from agentmail_server.domain.models import (
    Agent,
    Delivery,
    InboxItem,
    Message,
    Project,
    TokenHolder,
)
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.receipts import PendingAck, Receipt
from agentmail_server.domain.reservations import (
    Hold,
    Reservation,
)
from agentmail_server.domain.search_hits import HitRow


class ReservationReads(Protocol):
    """Reads of file reservations (index seeks; invariant 11)."""

    async def active(self, project_id: int, now: int) -> list[Hold]:
        """The project's reservations active at ``now``, from one snapshot."""
        ...

    async def reservation(self, reservation_id: int) -> Reservation | None:
        """One reservation by id, whatever its project or state."""
        ...

    async def reservations(
        self,
        project_id: int,
        *,
        after_id: int,
        limit: int,
        active_at: int | None,
        agent_id: int | None,
    ) -> list[Reservation]:
        """The project's reservations in id order after ``after_id`` (only those active at
        ``active_at`` unless None; only ``agent_id``'s unless None)."""
        ...

    async def holder_last_active(self, agent_id: int) -> int:
        """The agent's latest known activity in microseconds (0 if none): what decides
        whether its reservations are stale. A backend with a better presence signal (an
        agent's last authenticated call) answers with that."""
        ...


class MailReads(Protocol):
    """Every read of projects, agents and mail (all index seeks; invariants 3 and 8)."""

    async def project_by_slug(self, slug: str) -> Project | None:
        """The project with this slug."""
        ...

    async def project_by_human_key(self, human_key: str) -> Project | None:
        """The project ensured with this human key."""
        ...

    async def projects(self, after_id: int, limit: int) -> list[Project]:
        """Projects in creation order after ``after_id``."""
        ...

    async def agent_by_key(self, project_id: int, name_key: str) -> Agent | None:
        """The agent whose normalised name is ``name_key``."""
        ...

    async def agents(
        self, project_id: int, after_id: int, limit: int, flt: AgentFilter | None = None
    ) -> list[Agent]:
        """A project's agents in registration order after ``after_id``, filtered by ``flt``
        (the capability filter is an index seek; without a filter, retired agents too)."""
        ...

    async def contacts(self, agent_id: int, after_id: int, limit: int) -> list[ContactLink]:
        """The agent's links in both directions, in creation order after link ``after_id``."""
        ...

    async def contact_link(self, from_id: int, to_id: int) -> ContactLink | None:
        """The link from one agent to another, if any."""
        ...

    async def identity_by_token_hash(self, token_hash: str) -> TokenHolder | None:
        """Who holds the token with this hash and until when, expired or not (the caller
        judges expiry by its clock). A unique-index seek on ``agent_tokens.token_hash``."""
        ...

    async def agents_by_keys(
        self, project_id: int, name_keys: Sequence[str]
    ) -> list[tuple[int, str, str]]:
        """(id, name, name_key) of the project's agents among ``name_keys``."""
        ...

    async def broadcast_targets(
        self, project_id: int, sender_id: int, limit: int
    ) -> list[tuple[int, str]]:
        """(id, name) of every other agent of the project, in registration order."""
        ...

    async def inbox_tail(self, agent_id: int) -> int:
        """The newest position in the agent's inbox stream, a message id or a notice's
        position (0 when empty)."""
        ...

    async def notices(self, agent_id: int, after: int, limit: int) -> list[Notice]:
        """The agent's notices after position ``after``, oldest first."""
        ...

    async def message_for(
        self, message_id: int, viewer_id: int
    ) -> tuple[Message, Delivery | None] | None:
        """The message with the viewer's delivery, if the viewer sent or received it."""
        ...

    async def inbox(
        self,
        agent_id: int,
        flt: InboxFilter,
        *,
        after_id: int | None,
        before_id: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[InboxItem]:
        """One page of the agent's inbox between the id bounds (exclusive)."""
        ...

    async def inbox_rows(
        self,
        agent_id: int,
        agent_name: str,
        flt: InboxFilter,
        *,
        after_id: int | None,
        before_id: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[InboxRow]:
        """:meth:`inbox` as wire rows (ListInbox's page goes nowhere else): one flat tuple
        per item, already in the reader's (``agent_name``'s) view of bcc."""
        ...

    async def outbox(
        self, sender_id: int, before_id: int | None, limit: int, include_bodies: bool
    ) -> list[Message]:
        """The sender's messages, newest first, before ``before_id``."""
        ...

    async def thread(
        self,
        project_id: int,
        thread_id: str,
        viewer_id: int,
        after_id: int | None,
        limit: int,
        include_bodies: bool,
    ) -> list[tuple[Message, Delivery | None]]:
        """Messages of a thread the viewer sent or received, oldest first."""
        ...


# A position in a sender's pending acknowledgements: (message commit time, message id).
AckPosition = tuple[int, int]


class ReceiptReads(Protocol):
    """Receipts and acknowledgement tracking (index seeks; invariants 3, 7 and 11)."""

    async def receipts(
        self, sender_id: int, messages: Sequence[Message]
    ) -> dict[int, tuple[Receipt, ...]]:
        """Every recipient's receipt of each of ``messages`` that ``sender_id`` sent, keyed by
        message id, in address order (to, cc, bcc); other senders' messages are left out."""
        ...

    async def pending_acks(
        self,
        sender_id: int,
        *,
        after: AckPosition | None,
        before: AckPosition | None,
        sent_before: int | None,
        newest_first: bool,
        limit: int,
        include_bodies: bool,
    ) -> list[PendingAck]:
        """The sender's ack-required messages that some recipient has not acknowledged, each
        with those recipients, ordered by (commit time, id) and read from one snapshot.

        Args:
            sender_id: The sender.
            after: Only positions strictly after this one.
            before: Only positions strictly before this one.
            sent_before: Only messages committed at or before this time (the overdue cut).
            newest_first: Descending order instead of ascending.
            limit: At most this many messages.
            include_bodies: Read bodies too (else ``Message.body`` is None).
        """
        ...

    async def unacknowledged(
        self, agent_id: int, after_id: int | None, limit: int, include_bodies: bool
    ) -> list[InboxItem]:
        """The agent's received ack-required messages it has not acknowledged, oldest first
        (by id), after ``after_id`` (not yet restricted to the viewer's bcc view)."""
        ...


class SearchReads(Protocol):
    """Full-text search over the messages a viewer may see.

    ``match`` is the backend's rendering of a parsed query
    (:func:`agentmail_server.domain.search_query.to_fts`). Hits are
    :data:`~agentmail_server.domain.search_hits.HitRow` rows, already in the viewer's view
    (``viewer_name`` gives a bcc recipient its own name in the bcc list). Each method is one
    read of the backend's read pool.
    """

    async def newest(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        snapshot: int | None,
        before_id: int | None,
        limit: int,
        include_bodies: bool,
    ) -> tuple[int, list[HitRow]]:
        """The snapshot and the hits newest first, at or below it and below ``before_id``.
        Without a ``snapshot`` (a first page) it is the newest message id now: later pages
        never look past it."""
        ...

    async def ranked(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        flt: SearchFilter,
        *,
        candidates: int,
        limit: int,
        page: int,
        include_bodies: bool,
    ) -> tuple[list[tuple[int, float]], list[HitRow]]:
        """(id, relevance) of the best ``limit`` among the newest ``candidates`` visible
        matches, best first (ties by id): relevance never scores more than ``candidates``;
        and the hits of the first ``page`` of them, in that order."""
        ...

    async def hits_for(
        self,
        viewer_id: int,
        viewer_name: str,
        project_id: int,
        match: str,
        ids: list[int],
        include_bodies: bool,
    ) -> list[HitRow]:
        """Hits for the given ids in the order given (score left 0: the ranking has it);
        ids no longer visible are left out."""
        ...
