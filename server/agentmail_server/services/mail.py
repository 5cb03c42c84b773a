"""Use cases of MailService: send, reply, read, page, mark."""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Sequence

from agentmail_server.domain import cursors, inbox_rows, limits
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.contacts import SendRules
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.drafts import Draft, Sent
from agentmail_server.domain.filters import InboxFilter
from agentmail_server.domain.inbox_rows import InboxRow
from agentmail_server.domain.models import (
    Delivery,
    DeliveryState,
    Identity,
    Importance,
    Message,
    Recipient,
    RecipientKind,
)
from agentmail_server.domain.summary import SummaryBuilder, ThreadSummary
from agentmail_server.errors import FailedPrecondition, NotFound, invalid
from agentmail_server.limits.flood_guard import FloodGuard
from agentmail_server.services.compose import Compose, check_compose, reply_subject
from agentmail_server.services.digests import content_digest
from agentmail_server.services.inbox_cursors import InboxCursors
from agentmail_server.services.pages import rows_within_body_budget, within_body_budget
from agentmail_server.services.presence import Presence
from agentmail_server.services.recipients import RecipientResolver
from agentmail_server.storage.ports import MailReads, MailWrites

# Summaries read a thread page by page (bodies included) and stop after this many messages.
SUMMARY_PAGE = 100
MAX_SUMMARY_MESSAGES = 10_000
# An inbox page's message ids, taken from its wire rows in C.
_row_id = operator.itemgetter(inbox_rows.ID)


@dataclasses.dataclass(frozen=True)
class InboxPage:
    """One page of an inbox and the token for the next.

    The items are wire rows (see :mod:`~agentmail_server.domain.inbox_rows`), already in the
    caller's view of bcc: the page only goes to the wire, so no domain record is built.
    """

    rows: list[InboxRow]
    next_page_token: str
    # Each item's own cursor (oldest-first token for resuming after it), in the same order.
    cursors: list[str]


class Mailer:
    """Use cases of MailService."""

    def __init__(
        self,
        writes: MailWrites,
        queries: MailReads,
        resolver: RecipientResolver,
        codec: CursorCodec,
        clock: Clock,
        rules: SendRules | None = None,
        presence: Presence | None = None,
        flood_guard: FloodGuard | None = None,
    ) -> None:
        self._presence = presence
        self._flood_guard = flood_guard
        self._writes = writes
        # Every send is judged by these contact rules in the storing transaction.
        self._rules = SendRules() if rules is None else rules
        self._clock = clock
        self._queries = queries
        self._resolver = resolver
        self._codec = codec
        self._inbox_cursors = InboxCursors(codec, queries)

    def cursor(self, caller: Identity, message_id: int) -> str:
        """The inbox cursor of message ``message_id`` for ``caller`` (a recipient of it)."""
        return self._inbox_cursors.cursor(caller, message_id)

    async def send(
        self,
        caller: Identity,
        compose: Compose,
        to: Sequence[str],
        cc: Sequence[str],
        bcc: Sequence[str],
        broadcast: bool,
    ) -> Sent:
        """Validate, resolve recipients and commit a new message."""
        recipients, digest = await self.addressed(caller, compose, to, cc, bcc, broadcast)
        return await self._commit(caller, compose, recipients, digest, broadcast=broadcast)

    async def addressed(
        self,
        caller: Identity,
        compose: Compose,
        to: Sequence[str],
        cc: Sequence[str],
        bcc: Sequence[str],
        broadcast: bool,
    ) -> tuple[tuple[Recipient, ...], str]:
        """Validate a new message and resolve its recipients; its idempotency digest too."""
        check_compose(compose)
        if broadcast:
            if to or cc or bcc:
                raise invalid("broadcast", "cannot be combined with to, cc or bcc")
            recipients = await self._broadcast_recipients(caller)
        else:
            if not (to or cc or bcc):
                raise invalid("to", "at least one recipient is required", "NO_RECIPIENTS")
            recipients = await self._resolver.resolve(
                caller.project_id,
                [(RecipientKind.TO, to), (RecipientKind.CC, cc), (RecipientKind.BCC, bcc)],
            )
        if not compose.idempotency_key:
            return recipients, ""  # the digest only guards a key: skip the JSON and the SHA-256
        # A broadcast's audience changes as agents register: its retry must still match.
        digest = content_digest(compose, () if broadcast else recipients, broadcast, None)
        return recipients, digest

    async def _broadcast_recipients(self, caller: Identity) -> tuple[Recipient, ...]:
        targets = await self._queries.broadcast_targets(
            caller.project_id, caller.agent_id, limits.MAX_RECIPIENTS + 1
        )
        if not targets:
            raise FailedPrecondition(
                "NO_BROADCAST_RECIPIENTS", "there is no other agent in this project to broadcast to"
            )
        if len(targets) > limits.MAX_RECIPIENTS:
            raise FailedPrecondition(
                "TOO_MANY_RECIPIENTS",
                f"the project has more than {limits.MAX_RECIPIENTS} other agents",
            )
        return tuple(Recipient(agent_id, name, RecipientKind.TO) for agent_id, name in targets)

    async def _commit(
        self,
        caller: Identity,
        compose: Compose,
        recipients: tuple[Recipient, ...],
        digest: str,
        *,
        broadcast: bool = False,
    ) -> Sent:
        draft = self.draft(caller, compose, recipients, digest, broadcast=broadcast)
        guard = self._flood_guard
        if guard is None:
            return await self._writes.insert_message(draft, self._clock.now_micros())
        charged = guard.take(caller.agent_id, [(r.agent_id, r.name) for r in recipients])
        stored = False
        try:
            sent = await self._writes.insert_message(draft, self._clock.now_micros())
            stored = not sent.deduplicated
            return sent
        finally:
            if not stored:
                guard.give_back(charged)

    def draft(
        self,
        caller: Identity,
        compose: Compose,
        recipients: tuple[Recipient, ...],
        digest: str,
        *,
        broadcast: bool = False,
    ) -> Draft:
        """What storage is asked to commit for a validated message."""
        return Draft(
            project_id=caller.project_id,
            sender_id=caller.agent_id,
            sender_name=caller.name,
            recipients=recipients,
            subject=compose.subject.strip(),
            body=compose.body,
            importance=Importance(compose.importance or Importance.NORMAL),
            ack_required=compose.ack_required,
            thread_id=compose.thread_id,
            topic=compose.topic,
            idempotency_key=compose.idempotency_key,
            idempotency_digest=digest,
            rules=self._rules,
            broadcast=broadcast,
            recent_activity=self._unwritten_activity(recipients) if broadcast else (),
        )

    def _unwritten_activity(self, recipients: Sequence[Recipient]) -> tuple[tuple[int, int], ...]:
        if self._presence is None:
            return ()
        found = ((r.agent_id, self._presence.pending_time(r.agent_id)) for r in recipients)
        return tuple((agent_id, when) for agent_id, when in found if when is not None)

    async def reply(
        self,
        caller: Identity,
        message_id: int,
        compose: Compose,
        to: Sequence[str],
        cc: Sequence[str],
        reply_all: bool,
    ) -> Sent:
        """Reply in the original's thread; see the contract for who is addressed."""
        original, _ = await self.get(caller, message_id)
        compose = dataclasses.replace(
            compose,
            subject=compose.subject or reply_subject(original.subject),
            importance=compose.importance or int(original.importance),
            thread_id=original.thread_id,
            topic=original.topic,
        )
        check_compose(compose)
        if original.sender_id == caller.agent_id:
            primary = list(original.to) or [caller.name]
        else:
            primary = [original.sender_name]
        extra_cc: list[str] = []
        if reply_all:
            primary += [n for n in original.to if n.casefold() != caller.name.casefold()]
            extra_cc = [n for n in original.cc if n.casefold() != caller.name.casefold()]
        recipients = await self._resolver.resolve(
            caller.project_id,
            [(RecipientKind.TO, [*primary, *to]), (RecipientKind.CC, [*extra_cc, *cc])],
        )
        digest = ""
        if compose.idempotency_key:
            digest = content_digest(compose, recipients, False, original.id)
        return await self._commit(caller, compose, recipients, digest)

    async def get(self, caller: Identity, message_id: int) -> tuple[Message, Delivery | None]:
        """A message the caller sent or received, in the caller's view.

        Raises:
            NotFound: MESSAGE_NOT_FOUND, also for messages the caller may not see.
        """
        found = await self._queries.message_for(message_id, caller.agent_id)
        if found is None:
            raise NotFound(
                "MESSAGE_NOT_FOUND",
                f"no message {message_id} visible to this agent",
                metadata={"messageIds": str(message_id)},
            )
        message, delivery = found
        kind = delivery.kind if delivery else None
        return message.seen_by(caller.agent_id, caller.name, kind), delivery

    async def inbox(
        self,
        caller: Identity,
        flt: InboxFilter,
        *,
        newest_first: bool,
        page_size: int,
        page_token: str,
        include_bodies: bool,
    ) -> InboxPage:
        """One page of the caller's inbox; never changes state."""
        size = limits.page_size(page_size, 50, 500)
        kind = cursors.INBOX_DESC if newest_first else cursors.INBOX_ASC
        limits.check_length("topic", flt.topic, limits.MAX_TOPIC_CHARS)
        limits.check_length("thread_id", flt.thread_id, limits.MAX_THREAD_ID_CHARS)
        position = self._inbox_cursors.opened(caller, page_token, kind, "page_token")
        found = await self._queries.inbox_rows(
            caller.agent_id,
            caller.name,
            flt,
            after_id=None if newest_first else position,
            before_id=position if newest_first else None,
            newest_first=newest_first,
            limit=size + 1,
            include_bodies=include_bodies,
        )
        if position and (newest_first or not found):
            # An oldest-first page that found mail after the cursor has shown that the cursor
            # is not past the inbox's tail; only an empty one (or a newest-first one, whose
            # mail lies below the cursor) needs the tail's own seek (one less round trip).
            await self._inbox_cursors.check_not_ahead(caller, position, "page_token")
        page = rows_within_body_budget(found[:size])
        more = len(found) > len(page)
        ids = list(map(_row_id, page))
        item_cursors = self._inbox_cursors.cursors_of(caller, ids)
        if not page:
            token = ""
        elif newest_first:
            token = self._inbox_cursors.cursor(caller, ids[-1], kind) if more else ""
        else:
            token = item_cursors[-1]
        return InboxPage(page, token, item_cursors)

    async def outbox(
        self, caller: Identity, page_size: int, page_token: str, include_bodies: bool
    ) -> tuple[list[Message], str]:
        """A page of what the caller sent, newest first."""
        size = limits.page_size(page_size, 50, 500)
        scope = (caller.agent_id,)
        before = self._codec.decode(page_token, cursors.OUTBOX, scope)
        found = await self._queries.outbox(caller.agent_id, before, size + 1, include_bodies)
        page = within_body_budget(found[:size], lambda message: message)
        more = len(found) > len(page)
        token = self._codec.encode(cursors.OUTBOX, scope, page[-1].id) if more and page else ""
        return page, token

    async def thread(
        self,
        caller: Identity,
        thread_id: str,
        page_size: int,
        page_token: str,
        include_bodies: bool,
    ) -> tuple[list[Message], str]:
        """A page of a thread's messages visible to the caller, oldest first."""
        if not thread_id:
            raise invalid("thread_id", "is required")
        limits.check_length("thread_id", thread_id, limits.MAX_THREAD_ID_CHARS)
        size = limits.page_size(page_size, 100, 500)
        scope = (caller.agent_id, thread_id)
        after = self._codec.decode(page_token, cursors.THREAD, scope)
        found = await self._queries.thread(
            caller.project_id, thread_id, caller.agent_id, after, size + 1, include_bodies
        )
        if not found and after is None:
            raise NotFound(
                "THREAD_NOT_FOUND",
                f"no thread {thread_id!r} visible to this agent",
                metadata={"threadId": thread_id},
            )
        page = within_body_budget(found[:size], lambda pair: pair[0])
        more = len(found) > len(page)
        messages = [
            message.seen_by(caller.agent_id, caller.name, delivery.kind if delivery else None)
            for message, delivery in page
        ]
        token = ""
        if more and messages:
            token = self._codec.encode(cursors.THREAD, scope, messages[-1].id)
        return messages, token

    async def summarize(self, caller: Identity, thread_id: str, recent_count: int) -> ThreadSummary:
        """Summarise a thread the caller can see (its first MAX_SUMMARY_MESSAGES messages)."""
        if not thread_id:
            raise invalid("thread_id", "is required")
        limits.check_length("thread_id", thread_id, limits.MAX_THREAD_ID_CHARS)
        if recent_count < 0:
            raise invalid("recent_count", "must not be negative")
        builder = SummaryBuilder(thread_id, min(recent_count or 3, 20))
        after: int | None = None
        for _ in range(MAX_SUMMARY_MESSAGES // SUMMARY_PAGE):
            page = await self._queries.thread(
                caller.project_id, thread_id, caller.agent_id, after, SUMMARY_PAGE, True
            )
            for message, delivery in page:
                kind = delivery.kind if delivery else None
                builder.add(message.seen_by(caller.agent_id, caller.name, kind))
            if len(page) < SUMMARY_PAGE:
                break
            after = page[-1][0].id
        summary = builder.build()
        if summary is None:
            raise NotFound(
                "THREAD_NOT_FOUND",
                f"no thread {thread_id!r} visible to this agent",
                metadata={"threadId": thread_id},
            )
        return summary

    async def mark(
        self, caller: Identity, message_ids: Sequence[int], *, acknowledge: bool
    ) -> list[DeliveryState]:
        """Set first-wins read (and ack) times on messages the caller received."""
        unique = list(dict.fromkeys(message_ids))
        if not unique:
            raise invalid("message_ids", "at least one message id is required")
        if len(unique) > limits.MAX_IDS_PER_CALL:
            raise invalid("message_ids", f"at most {limits.MAX_IDS_PER_CALL} ids per call")
        return await self._writes.mark_deliveries(
            caller.agent_id, unique, self._clock.now_micros(), acknowledge=acknowledge
        )
