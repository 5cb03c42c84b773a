"""Acknowledgement tracking calls: what still awaits an acknowledgement, on either side."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

from agentmail.v1 import receipts_pb2

from ._models import InboxItem, Page, _view
from ._receipt_models import AckOrder, PendingAck, PendingAcksPage
from ._transport import CallKind, ClientBase


class AckCalls(ClientBase):
    """The acknowledgement listings of :class:`~agentmail_client.AgentmailClient`; need a
    token. Receipts of single messages come with ``get_message`` and ``list_outbox``."""

    async def list_pending_acks(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        order: AckOrder = AckOrder.OLDEST_FIRST,
        overdue_only: bool = False,
        overdue_seconds: int | None = None,
        include_bodies: bool = True,
        timeout: float | None = None,
    ) -> PendingAcksPage:
        """Returns a page of the agent's sent messages that asked for an acknowledgement some
        recipient has not given, each with those recipients (read or not)::

            token = ""
            while True:
                page = await client.list_pending_acks(overdue_only=True, page_token=token)
                for item in page:
                    print(item.message.subject, [r.recipient for r in item.pending])
                if not (token := page.next_page_token):
                    break

        Args:
            page_size: Most messages; 0 means the server default (50), above 500 is capped.
            page_token: ``next_page_token`` of the previous page, in the same order.
            order: OLDEST_FIRST (what has waited longest) or NEWEST_FIRST.
            overdue_only: Only messages sent at least the overdue threshold ago.
            overdue_seconds: The threshold for this call; ``None`` uses the server's
                ``ack_overdue_seconds`` (default one hour). At most ten years.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: ``INVALID_PAGE_TOKEN`` for a token of another agent, listing or
                order; a negative ``page_size``; an ``overdue_seconds`` out of range.
        """
        if overdue_seconds is not None and overdue_seconds <= 0:
            # 0 on the wire means "the server's": refuse it here rather than change its meaning.
            raise ValueError(f"overdue_seconds must be positive or None, got {overdue_seconds}")
        request = receipts_pb2.ListPendingAcksRequest(
            page_size=page_size,
            page_token=page_token,
            order=order.to_proto(),
            overdue_only=overdue_only,
            overdue_seconds=overdue_seconds or 0,
            view=_view(include_bodies),
        )
        response = await self._call(
            self._connection.mail.ListPendingAcks, request, CallKind.READ, timeout
        )
        return PendingAcksPage(
            tuple(PendingAck.from_proto(item) for item in response.items),
            response.next_page_token,
            overdue_seconds=response.overdue_seconds,
        )

    async def list_unacknowledged(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        include_bodies: bool = True,
        timeout: float | None = None,
    ) -> Page[InboxItem]:
        """Returns a page of the ack-required mail the agent received and has not
        acknowledged, oldest first; acknowledging an item takes it off the list.

        Args:
            page_size: Most items; 0 means the server default (50), above 500 is capped.
            page_token: ``next_page_token`` of the previous page (empty at the end).
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: ``INVALID_PAGE_TOKEN`` for a token not issued to this agent for
                this listing, or a negative ``page_size``.
        """
        request = receipts_pb2.ListUnacknowledgedRequest(
            page_size=page_size, page_token=page_token, view=_view(include_bodies)
        )
        response = await self._call(
            self._connection.mail.ListUnacknowledged, request, CallKind.READ, timeout
        )
        return Page(
            tuple(InboxItem.from_proto(i) for i in response.items), response.next_page_token
        )
