"""Use cases of receipts and acknowledgement tracking.

A sender sees each recipient's receipt of its own messages (GetMessage, ListOutbox) and lists
its ack-required messages still awaiting an acknowledgement (ListPendingAcks); a recipient lists
the ack-required mail it has not acknowledged yet (ListUnacknowledged). Nobody ever sees another
reader's state of a message they did not send: the sender check is made here and again by the
storage (invariant 11 of the ports).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from agentmail_server.domain import cursors, limits
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.models import Identity, InboxItem, Message
from agentmail_server.domain.receipts import PendingAck, Receipt
from agentmail_server.errors import invalid
from agentmail_server.services.inbox_cursors import InboxCursors
from agentmail_server.services.pages import within_body_budget
from agentmail_server.storage.ports import MailReads, ReceiptReads

DEFAULT_PAGE = 50
MAX_PAGE = 500


@dataclasses.dataclass(frozen=True)
class PendingAckPage:
    """One page of a sender's pending acknowledgements.

    Attributes:
        items: The messages, each with the recipients that still owe an acknowledgement.
        next_page_token: The token of the next page, empty at the end.
        overdue_seconds: The overdue threshold applied.
        cutoff: Messages sent at or before this time (microseconds) are overdue.
    """

    items: list[PendingAck]
    next_page_token: str
    overdue_seconds: int
    cutoff: int


@dataclasses.dataclass(frozen=True)
class UnacknowledgedPage:
    """One page of a recipient's unacknowledged ack-required mail, oldest first.

    Attributes:
        items: The messages in the caller's view, with its own delivery state.
        cursors: Each item's inbox cursor, in the same order.
        next_page_token: The token of the next page, empty at the end.
    """

    items: list[InboxItem]
    cursors: list[str]
    next_page_token: str


class AckTracker:
    """Receipts for senders, and what still awaits an acknowledgement on either side.

    Args:
        reads: The receipt and acknowledgement reads.
        mail_reads: For the inbox cursors of listed items.
        codec: Seals the listings' page tokens.
        clock: Where "now" comes from for the overdue threshold.
        overdue_seconds: The default overdue threshold (the ``ack_overdue_seconds`` setting).
    """

    def __init__(
        self,
        reads: ReceiptReads,
        mail_reads: MailReads,
        codec: CursorCodec,
        clock: Clock,
        overdue_seconds: int,
    ) -> None:
        self._reads = reads
        self._codec = codec
        self._clock = clock
        self._overdue_seconds = overdue_seconds
        self._inbox_cursors = InboxCursors(codec, mail_reads)

    async def receipts(
        self, caller: Identity, messages: Sequence[Message]
    ) -> dict[int, tuple[Receipt, ...]]:
        """Each recipient's receipt of each of ``messages`` the caller sent, by message id;
        messages the caller did not send get none (and cost no query when none is its own)."""
        own = [message for message in messages if message.sender_id == caller.agent_id]
        if not own:
            return {}
        return await self._reads.receipts(caller.agent_id, own)

    async def pending_acks(
        self,
        caller: Identity,
        *,
        page_size: int,
        page_token: str,
        newest_first: bool,
        overdue_only: bool,
        overdue_seconds: int,
        include_bodies: bool,
    ) -> PendingAckPage:
        """A page of the caller's ack-required messages that some recipient has not
        acknowledged, ordered by when they were sent.

        Raises:
            InvalidArgument: a negative page size, an overdue threshold out of range, or a
                page token not issued to this caller for this order (INVALID_PAGE_TOKEN).
        """
        size = limits.page_size(page_size, DEFAULT_PAGE, MAX_PAGE)
        threshold = self._threshold(overdue_seconds)
        kind = cursors.PENDING_ACKS_DESC if newest_first else cursors.PENDING_ACKS_ASC
        scope = (caller.agent_id,)
        position = self._codec.decode_many(page_token, kind, scope, 2)
        bound = None if position is None else (position[0], position[1])
        cutoff = self._clock.now_micros() - threshold * 1_000_000
        found = await self._reads.pending_acks(
            caller.agent_id,
            after=None if newest_first else bound,
            before=bound if newest_first else None,
            sent_before=cutoff if overdue_only else None,
            newest_first=newest_first,
            limit=size + 1,
            include_bodies=include_bodies,
        )
        page = within_body_budget(found[:size], lambda item: item.message)
        token = ""
        if len(found) > len(page) and page:
            last = page[-1].message
            token = self._codec.encode(kind, scope, last.created_at, last.id)
        return PendingAckPage(page, token, threshold, cutoff)

    async def unacknowledged(
        self, caller: Identity, *, page_size: int, page_token: str, include_bodies: bool
    ) -> UnacknowledgedPage:
        """A page of the ack-required mail the caller received and has not acknowledged,
        oldest first.

        Raises:
            InvalidArgument: a negative page size, or a page token not issued to this caller
                for this listing (INVALID_PAGE_TOKEN).
        """
        size = limits.page_size(page_size, DEFAULT_PAGE, MAX_PAGE)
        scope = (caller.agent_id,)
        after = self._codec.decode(page_token, cursors.UNACKNOWLEDGED, scope)
        found = await self._reads.unacknowledged(caller.agent_id, after, size + 1, include_bodies)
        page = within_body_budget(found[:size], lambda item: item.message)
        items = [
            InboxItem(
                item.message.seen_by(caller.agent_id, caller.name, item.delivery.kind),
                item.delivery,
            )
            for item in page
        ]
        token = ""
        if len(found) > len(items) and items:
            token = self._codec.encode(cursors.UNACKNOWLEDGED, scope, items[-1].message.id)
        item_cursors = [self._inbox_cursors.cursor(caller, item.message.id) for item in items]
        return UnacknowledgedPage(items, item_cursors, token)

    def _threshold(self, requested: int) -> int:
        """The overdue threshold in seconds: the request's, or the server's when 0."""
        if requested < 0:
            raise invalid("overdue_seconds", "must not be negative (0 means the server's)")
        if requested > limits.MAX_ACK_OVERDUE_SECONDS:
            raise invalid(
                "overdue_seconds",
                f"must be at most {limits.MAX_ACK_OVERDUE_SECONDS} seconds (ten years)",
            )
        return requested or self._overdue_seconds
