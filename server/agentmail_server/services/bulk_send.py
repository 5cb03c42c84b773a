"""SendMessages: many sends in one call, committed as one write operation.

Why a bulk path: a unary send is bounded by gRPC's per-call cost (parsing, dispatch, the
interceptor, metrics), not by the work of storing a message; one request carrying 64 messages
pays that cost once. Each item is still exactly a SendMessage: validated and addressed by
:meth:`Mailer.addressed`, judged by the contact rules in the storing transaction, idempotent
by its own key, charged to the flood guard. An item that fails does so alone, with the error
SendMessage would have raised; the others commit together (one transaction, one fsync) and
reach subscribers and the archive through the commit feed like any send.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.domain.clock import Clock
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.models import Identity
from agentmail_server.errors import AgentmailError, invalid
from agentmail_server.limits.flood_guard import FloodGuard
from agentmail_server.services.compose import Compose
from agentmail_server.services.mail import Mailer
from agentmail_server.storage.ports import MailWrites

# The default bound on items per call (the server's max_sends_per_call).
DEFAULT_MAX_ITEMS = 500


@dataclasses.dataclass(frozen=True, slots=True)
class SendItem:
    """One send of a SendMessages call, as SendMessage takes it."""

    compose: Compose
    to: Sequence[str] = ()
    cc: Sequence[str] = ()
    bcc: Sequence[str] = ()
    broadcast: bool = False


Outcome = Sent | AgentmailError


class BulkSender:
    """Use case of SendMessages.

    Args:
        mailer: validates and addresses each item and builds its draft.
        writes: stores the drafts in one operation.
        clock: the commit time of every item.
        flood_guard: per-pair budgets, charged per item (None: off).
        max_items: the most items a call may carry.
    """

    def __init__(
        self,
        mailer: Mailer,
        writes: MailWrites,
        clock: Clock,
        flood_guard: FloodGuard | None = None,
        max_items: int = DEFAULT_MAX_ITEMS,
    ) -> None:
        self._mailer = mailer
        self._writes = writes
        self._clock = clock
        self._flood_guard = flood_guard
        self.max_items = max_items

    async def send_many(
        self, caller: Identity, items: Sequence[SendItem | AgentmailError]
    ) -> list[Outcome]:
        """Send every item; one outcome per item, in order (a Sent, or the item's error).

        An item the caller already found invalid (wire checks) is passed as its error and
        returned in its place.

        Raises:
            InvalidArgument: no items (NO_SENDS) or more than ``max_items`` (TOO_MANY_SENDS).
            Unavailable, ResourceExhausted: the write as a whole failed (nothing committed).
        """
        if not items:
            raise invalid("messages", "at least one message is required", "NO_SENDS")
        if len(items) > self.max_items:
            raise invalid(
                "messages",
                f"at most {self.max_items} messages per call (got {len(items)})",
                "TOO_MANY_SENDS",
            )
        outcomes: list[Outcome | None] = [None] * len(items)
        drafts: list[Draft] = []
        # Where each draft's outcome goes, and the flood-guard tokens it took.
        slots: list[tuple[int, tuple[tuple[int, int], ...]]] = []
        guard = self._flood_guard
        for index, item in enumerate(items):
            if isinstance(item, AgentmailError):
                outcomes[index] = item
                continue
            try:
                recipients, digest = await self._mailer.addressed(
                    caller, item.compose, item.to, item.cc, item.bcc, item.broadcast
                )
                charged: tuple[tuple[int, int], ...] = ()
                if guard is not None:
                    charged = guard.take(
                        caller.agent_id, [(r.agent_id, r.name) for r in recipients]
                    )
            except AgentmailError as exc:
                outcomes[index] = exc
                continue
            drafts.append(
                self._mailer.draft(
                    caller, item.compose, recipients, digest, broadcast=item.broadcast
                )
            )
            slots.append((index, charged))
        stored: list[Outcome] = []
        try:
            if drafts:
                stored = await self._writes.insert_messages(drafts, self._clock.now_micros())
        finally:
            if guard is not None:  # only messages actually stored keep their tokens
                for position, (_, charged) in enumerate(slots):
                    kept = position < len(stored)
                    outcome = stored[position] if kept else None
                    if not isinstance(outcome, Sent) or outcome.deduplicated:
                        guard.give_back(charged)
        for (index, _), outcome in zip(slots, stored, strict=True):
            outcomes[index] = outcome
        done = [outcome for outcome in outcomes if outcome is not None]
        assert len(done) == len(items), "an item without an outcome"
        return done
