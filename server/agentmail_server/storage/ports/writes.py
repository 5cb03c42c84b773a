"""The write ports: mail, retention, agents, contacts, lifecycle and reservations.

The invariants they keep are listed in :mod:`agentmail_server.storage.ports`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from agentmail_server.domain.contacts import ContactPolicy
from agentmail_server.domain.drafts import Draft, Registration, Sent
from agentmail_server.domain.links import (
    ContactRequest,
    ContactResponse,
    RequestOutcome,
    ResponseOutcome,
)
from agentmail_server.domain.models import (
    Agent,
    DeliveryState,
    Project,
)
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.reservations import (
    Reservation,
    Reserved,
    ReserveRequest,
    Selection,
)
from agentmail_server.domain.retention import Purged
from agentmail_server.errors import AgentmailError


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
