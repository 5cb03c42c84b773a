"""The storage interfaces the services, the hub and the composition root use.

Services and the hub import nothing else of :mod:`agentmail_server.storage`; each backend
(today :mod:`agentmail_server.storage.sqlite`) implements these Protocols. Values crossing them
are the domain's (:mod:`agentmail_server.domain`); times are integer microseconds since the
epoch; errors are the tree in :mod:`agentmail_server.errors`.

Invariants every backend must keep (the suite checks each one through the gRPC API; a new
backend proves them by passing it):

1. **Durable before visible.** A write's awaiter resumes only after its transaction is
   durable, and the :class:`CommitFeed` publishes a commit only then. A subscriber never sees
   a message that a crash could take back.
2. **Gap-free, commit-ordered ids.** Message ids grow in commit order: once a reader has seen
   message N, no message with an id below N can commit later. Cursors and keyset pages rely
   on it ("a reader never sees id N+1 committed before N"). Notices (coordination events for
   one agent) take their positions from the same sequence, under the same rule, so one cursor
   orders an agent's mail and notices together; ids may therefore skip numbers.
3. **Read your writes.** A read started after a write's awaiter resumed sees that write.
4. **One feed, in order, once.** Each committed transaction that changed something is
   published exactly once, in commit order, on the event loop, as one
   :class:`~agentmail_server.domain.events.Commit`.
5. **Atomic operations.** Each write operation commits whole or not at all; a failing
   operation never takes others down with it (it fails alone with its own error).
6. **Idempotent sends.** A send repeating a sender's idempotency key within
   ``IDEMPOTENCY_WINDOW_MICROS`` commits nothing: with the same ``Draft.idempotency_digest``
   it returns the original message (``Sent.deduplicated``), with another it fails with
   ``FailedPrecondition`` (IDEMPOTENCY_KEY_REUSED); after the window the key is taken over
   by the new send.
7. **First-wins receipts.** Read and acknowledgement times are set once and never change;
   marking is all or nothing (one unknown id fails the whole call with MESSAGE_NOT_FOUND).
8. **Raw reads, filtered visibility.** Reads return only messages the viewer sent or
   received (search also applies its filters in the query), but the message as stored:
   hiding bcc recipients from a viewer is the services' job (``Message.seen_by``).
9. **Bounded and honest under pressure.** A full write queue fails fast with
   ``ResourceExhausted`` (WRITER_OVERLOADED, with a retry delay); writes after shutdown began
   fail with ``Unavailable`` (SHUTTING_DOWN); a transaction the database cannot commit fails
   every operation in it with ``Unavailable`` (STORAGE_FULL, STORAGE_READ_ONLY or
   STORAGE_UNAVAILABLE, with a retry delay) and loses nothing that was acknowledged before.
10. **Failing writes are reported and heal by themselves.** While whole commits fail, the
   listeners of :meth:`Storage.watch_writes` hold the error (the server reports NOT_SERVING);
   the backend keeps probing and tells them None as soon as a commit succeeds, with reads
   served throughout.
11. **Receipts for the sender only.** :class:`ReceiptReads` returns a message's receipts
   (every recipient's delivery, read and ack times) only to its sender: a message of any
   other sender gets none, whoever asks. A recipient's own list of unacknowledged mail holds
   only its deliveries. Both acknowledgement listings are index seeks over the deliveries
   still waiting (an acknowledgement takes its delivery out of both at once, by invariant 7's
   first-wins write), never a scan of a sender's or a recipient's history.
12. **Contact policies hold at commit.** ``MailWrites.insert_message`` judges every recipient
   of a draft with ``Draft.rules`` by :func:`agentmail_server.domain.contacts.refusal`, on
   facts read in the transaction that stores the message: a refusal stores nothing (explicit
   recipients) or leaves the agent out and reports it (a broadcast). An idempotent repeat
   returns the original before any judgement.
13. **Presence is cheap.** Last-active times are written in batches (``LifecycleWrites
   .touch_agents``), never once per call, and only ever move forward.
14. **Reservations: expiry by time, one winner.** A reservation is active while
   ``released_at`` is None and ``expires_at > now`` for the ``now`` the caller passes: every
   read and conflict check decides by time, whether or not the expiry sweep has run. A
   ReservePaths checks conflicts and grants in one atomic operation serialised with every
   other write, so of concurrent exclusive requests for overlapping patterns exactly one is
   granted.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from agentmail_server.domain.contacts import ContactLink, ContactPolicy
from agentmail_server.domain.drafts import Draft, Registration, Sent
from agentmail_server.domain.events import Commit
from agentmail_server.domain.filters import AgentFilter, InboxFilter, SearchFilter
from agentmail_server.domain.inbox_rows import InboxRow
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
)
from agentmail_server.domain.models import (
    Agent,
    Delivery,
    DeliveryState,
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
    Reserved,
    ReserveRequest,
    Selection,
)
from agentmail_server.domain.retention import Purged
from agentmail_server.domain.search_hits import HitRow
from agentmail_server.errors import AgentmailError, Unavailable
from agentmail_server.storage.stats import ReadPoolStats, WriterStats

CommitListener = Callable[[Commit], None]
# Told the error while a backend's commits fail as a whole, then None once they succeed.
WriteHealthListener = Callable[[Unavailable | None], None]


class CommitFeed(Protocol):
    """Where committed changes are announced (invariants 1 and 4)."""

    def subscribe(self, listener: CommitListener) -> None:
        """Call ``listener`` on the event loop with every later commit.

        Listeners must be quick and must not block: they run in the writer's path.
        """
        ...


class MailWrites(Protocol):
    """Writes of mail: sending and receipts."""

    async def insert_message(self, draft: Draft, now: int) -> Sent:
        """Store a message and its deliveries (invariants 2 and 6)."""
        ...

    async def insert_messages(
        self, drafts: Sequence[Draft], now: int
    ) -> list[Sent | AgentmailError]:
        """Store several messages in one write operation (one transaction), each exactly as
        :meth:`insert_message` would; one outcome per draft, in order.

        A draft that fails (a contact refusal, a reused idempotency key) is rolled back alone
        and its error returned in its place; the others commit. Ids grow in draft order.

        Raises:
            Unavailable, ResourceExhausted: the operation as a whole could not commit.
        """
        ...

    async def mark_deliveries(
        self, agent_id: int, message_ids: Sequence[int], now: int, *, acknowledge: bool
    ) -> list[DeliveryState]:
        """Set first-wins read (and ack) times on the agent's deliveries (invariant 7).

        Raises:
            NotFound: MESSAGE_NOT_FOUND naming every id not in the agent's inbox.
        """
        ...


class RetentionWrites(Protocol):
    """Purging old mail (the retention policy)."""

    async def purge_messages(self, before: int, limit: int) -> Purged:
        """Remove up to ``limit`` of the oldest messages created before ``before``, with their
        deliveries, idempotency keys and search index entries, in one write operation.

        Message ids stay monotonic (invariant 2): an id is never assigned again after its
        message is purged, even the newest one. Nothing is published on the feed (a purge adds
        nothing a subscriber or the archive follows).
        """
        ...


class AgentWrites(Protocol):
    """Writes of projects and agents."""

    async def ensure_project(self, human_key: str, now: int) -> tuple[Project, bool]:
        """The project for ``human_key`` and whether it was created now (unique slugs)."""
        ...

    async def register_agent(self, registration: Registration, now: int) -> tuple[Agent, bool]:
        """Create the agent, or update its profile when the caller presented its token.

        Raises:
            AlreadyExists: AGENT_EXISTS, the name is taken and no token was presented.
            Unauthenticated: TOKEN_INVALID, the presented token belongs to nobody.
            PermissionDenied: NOT_AGENT_OWNER, it belongs to another agent.
            Unauthenticated: ``registration.enrollment_problem``, when the name is new.
        """
        ...

    async def rotate_token(
        self, agent_id: int, new_hash: str, now: int, overlap_micros: int
    ) -> None:
        """Give the agent the token ``new_hash``; every other token of it expires after
        ``overlap_micros`` (at once when 0), in one transaction. Only hashes are stored."""
        ...

    async def revoke_tokens(self, agent_id: int, now: int, replacement_hash: str | None) -> int:
        """Delete every token of the agent at once (then store ``replacement_hash`` as its
        only token, when given); returns how many were revoked."""
        ...

    async def update_agent(
        self,
        agent_id: int,
        fields: Mapping[str, str],
        now: int,
        capabilities: Sequence[str] | None = None,
    ) -> Agent:
        """Replace the named profile fields (program, model, task_description, status), and
        the capabilities when given (kept findable by ``MailReads.agents``' filter)."""
        ...


class ContactWrites(Protocol):
    """Writes of contact policies and links (each one transaction)."""

    async def set_contact_policy(self, agent_id: int, policy: ContactPolicy, now: int) -> Agent:
        """Store the agent's own policy."""
        ...

    async def request_contact(
        self, request: ContactRequest, default_policy: ContactPolicy, now: int
    ) -> RequestOutcome:
        """Open or refresh the pending link and, when new or lapsed, store the message and the
        REQUESTED contact notice that tell the target, in one transaction (both published on
        the feed).

        Raises:
            PermissionDenied: AGENT_RETIRED or CONTACT_BLOCKED (the target blocks everyone,
                ``default_policy`` included, or blocked the requester).
        """
        ...

    async def respond_contact(self, response: ContactResponse, now: int) -> ResponseOutcome:
        """Approve or block the link from the requester to the responder (creating it), and
        leave the requester an APPROVED or BLOCKED contact notice, in one transaction."""
        ...


class LifecycleWrites(Protocol):
    """Writes of agents' retirement and last-active times."""

    async def retire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Retire the agent and release its reservations, in one transaction; returns the
        agent and whether it changed (retiring twice keeps the first time)."""
        ...

    async def unretire_agent(self, agent_id: int, now: int) -> tuple[Agent, bool]:
        """Bring the agent back (its last-active time becomes ``now``)."""
        ...

    async def touch_agents(self, stamps: Sequence[tuple[int, int]]) -> int:
        """Move the ``(agent_id, time)`` last-active times forward, all in one operation."""
        ...

    async def retire_idle(self, idle_before: int, now: int) -> list[Agent]:
        """Retire a batch of agents idle since before ``idle_before``; returns them (an empty
        list when none is left)."""
        ...


class ReservationWrites(Protocol):
    """Writes of file reservations (invariant 11). Times are microseconds."""

    async def reserve(self, request: ReserveRequest, now: int) -> Reserved:
        """Check conflicts against the project's active reservations and grant per the
        request's mode, in one operation; the same agent and pattern again extends in place
        (the later expiry wins); each holder of a conflicting reservation gets a CONFLICT
        notice. A repeated idempotency key returns the stored first result.

        Raises:
            FailedPrecondition: IDEMPOTENCY_KEY_REUSED, the key was used for another request.
        """
        ...

    async def renew(
        self, agent_id: int, project_id: int, selection: Selection, extend_micros: int, now: int
    ) -> list[Reservation]:
        """Extend the agent's selected active reservations: expiry = max(now, old) + extend.

        Raises:
            NotFound: RESERVATION_NOT_FOUND, an id unknown or of another project.
            PermissionDenied: NOT_RESERVATION_HOLDER, an id of another agent.
            FailedPrecondition: RESERVATION_NOT_ACTIVE, an id released or expired.
        """
        ...

    async def release(
        self, agent_id: int, agent_name: str, project_id: int, selection: Selection, now: int
    ) -> list[Reservation]:
        """Release the agent's selected active reservations; returns those released.

        Raises:
            NotFound: RESERVATION_NOT_FOUND, an id unknown or of another project.
            PermissionDenied: NOT_RESERVATION_HOLDER, an id of another agent.
        """
        ...

    async def force_release(
        self,
        reservation_id: int,
        expected_version: int | None,
        releaser: str,
        reason: str,
        mail: Draft | None,
        now: int,
    ) -> tuple[Reservation, Sent | None, Notice | None]:
        """Release a reservation judged stale at version ``expected_version`` (its
        ``updated_at``; None: an operator's decision, released whatever its version), send
        ``mail`` (None: send nothing) and leave its holder a FORCE_RELEASED notice, all in the
        same transaction; an already released one is returned as it is, with neither.
        ``releaser`` is recorded as ``released_by`` and named in the notice.

        Raises:
            FailedPrecondition: RESERVATION_ACTIVE, it was renewed since (only with an
                ``expected_version``).
        """
        ...

    async def expire(self, now: int, limit: int) -> list[Reservation]:
        """Record up to ``limit`` reservations expired at ``now`` as released at their expiry."""
        ...

    async def mark_expiring(self, now: int, horizon_micros: int, limit: int) -> list[Notice]:
        """Leave an EXPIRING notice (once) for the holders of up to ``limit`` active
        reservations expiring within the horizon; renewing one clears its mark."""
        ...


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


class Storage(Protocol):
    """One opened backend: its interfaces, its life cycle and its statistics."""

    @property
    def mail(self) -> MailWrites:
        """Mail writes."""
        ...

    @property
    def retention(self) -> RetentionWrites:
        """Purges of old mail."""
        ...

    @property
    def agents(self) -> AgentWrites:
        """Project and agent writes."""
        ...

    @property
    def reservations(self) -> ReservationWrites:
        """File reservation writes."""
        ...

    @property
    def reservation_reads(self) -> ReservationReads:
        """File reservation reads."""
        ...

    @property
    def contacts(self) -> ContactWrites:
        """Contact policy and link writes."""
        ...

    @property
    def lifecycle(self) -> LifecycleWrites:
        """Retirement and presence writes."""
        ...

    @property
    def reads(self) -> MailReads:
        """Reads."""
        ...

    @property
    def search(self) -> SearchReads:
        """Search reads."""
        ...

    @property
    def receipts(self) -> ReceiptReads:
        """Receipt and acknowledgement reads."""
        ...

    @property
    def feed(self) -> CommitFeed:
        """The commit feed."""
        ...

    @property
    def database_files(self) -> tuple[tuple[str, pathlib.Path], ...]:
        """``(name, path)`` of local files whose size the metrics export (may be empty)."""
        ...

    def writer_stats(self) -> WriterStats:
        """A snapshot of the write queue and its commits."""
        ...

    def read_pool_stats(self) -> ReadPoolStats:
        """A snapshot of the read connections."""
        ...

    def watch_writes(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` on the loop with the error when whole commits start failing,
        and with None when one succeeds again (see invariant 10)."""
        ...

    async def shared_cursor_key(self, local: bytes) -> bytes:
        """The key cursors are sealed with: ``local`` (the data folder's) on a backend one
        server owns; on a shared database, the key stored there, which the first server to
        start stores from its own ``local`` key, so that every server accepts every cursor."""
        ...

    async def close(self) -> None:
        """Refuse new writes, commit everything already accepted, then close."""
        ...
