"""MailService calls: sending, replying, reading, acknowledging and summarising mail."""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline, which the server sees and
# honours; an asyncio.timeout around the call would only cancel it locally.

from __future__ import annotations

from collections.abc import Iterable

from agentmail.v1 import mail_service_pb2, types_pb2

from ._contact_models import SkippedRecipient
from ._models import (
    DeliveryState,
    GetMessageResult,
    Importance,
    InboxItem,
    InboxOrder,
    Message,
    Page,
    SendMessageResult,
    _view,
)
from ._receipt_models import MessageReceipts, OutboxPage, Receipt
from ._search_models import ThreadSummary
from ._transport import CallKind, ClientBase


def _names(value: str | Iterable[str]) -> list[str]:
    # A bare string is itself an iterable of one-letter "names": treat it as one name.
    return [value] if isinstance(value, str) else list(value)


def _ids(value: int | Iterable[int]) -> list[int]:
    return [value] if isinstance(value, int) else list(value)


def _importance(value: Importance | None) -> types_pb2.Importance.ValueType:
    return types_pb2.IMPORTANCE_UNSPECIFIED if value is None else value.to_proto()


class MailCalls(ClientBase):
    """The MailService half of :class:`~agentmail_client.AgentmailClient`; all need a token."""

    async def send_message(
        self,
        to: str | Iterable[str] = (),
        *,
        subject: str,
        body: str = "",
        cc: str | Iterable[str] = (),
        bcc: str | Iterable[str] = (),
        importance: Importance | None = None,
        ack_required: bool = False,
        thread_id: str = "",
        topic: str = "",
        idempotency_key: str | None = None,
        broadcast: bool = False,
        timeout: float | None = None,
    ) -> SendMessageResult:
        """Sends a message as this client's agent.

        Only a send with an ``idempotency_key`` is retried: the server returns the original
        for a repeated key, so a retry cannot deliver twice. Any send refused with
        ``RATE_LIMITED`` is retried after the server's delay (it was refused before it ran).

        Args:
            to: Recipient name or names (case-insensitive) in the sender's project.
            subject: Required, at most 200 characters.
            body: Markdown, at most 1 MiB of UTF-8.
            cc: Copied recipients.
            bcc: Blind-copied recipients.
            importance: ``None`` means NORMAL.
            ack_required: Ask recipients to acknowledge.
            thread_id: Joins that thread; empty starts a new one.
            topic: Optional topic for filtering.
            idempotency_key: Makes the send safe to repeat for 24 hours. The key is bound
                to the content: reusing it for a different message raises
                ``FailedPrecondition`` (``IDEMPOTENCY_KEY_REUSED``).
            broadcast: Address every other agent of the project; excludes to/cc/bcc.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Raises:
            NotFound: ``RECIPIENT_NOT_FOUND``, with the names in ``metadata["missing"]``.
            InvalidArgument: With ``field_violations``, e.g. ``SUBJECT_TOO_LONG``, or
                ``CONTROL_CHARACTER`` for a newline in a subject, topic or thread id.
            FailedPrecondition: ``IDEMPOTENCY_KEY_REUSED``, with the original's id in
                ``metadata["messageId"]``; ``NO_BROADCAST_RECIPIENTS`` when a broadcast
                skipped everyone (``metadata["skipped"]``).
            PermissionDenied: ``CONTACT_REQUIRED``, ``CONTACT_BLOCKED`` or ``AGENT_RETIRED``
                when a recipient's contact policy refuses the sender; nothing was sent, and
                ``metadata["refused"]`` lists every refusing ``name:REASON``.
            ResourceExhausted: ``FLOOD_GUARD`` when this agent sent a recipient (named in
                ``metadata["recipient"]``) its per-minute budget already; nothing was sent,
                ``retry_after`` says when the pair has room again (a send with an
                idempotency key is retried that long later if ``retry_after`` is within the
                retry policy's ``max_backoff``). ``RATE_LIMITED`` when the agent's writes are
                over the server's rate limit and the retries ran out.
        """
        request = mail_service_pb2.SendMessageRequest(
            to=_names(to),
            cc=_names(cc),
            bcc=_names(bcc),
            subject=subject,
            body=body,
            importance=_importance(importance),
            ack_required=ack_required,
            thread_id=thread_id,
            topic=topic,
            idempotency_key=idempotency_key or "",
            broadcast=broadcast,
        )
        kind = CallKind.WRITE if not idempotency_key else CallKind.IDEMPOTENT_WRITE
        response = await self._call(self._connection.mail.SendMessage, request, kind, timeout)
        return SendMessageResult(
            Message.from_proto(response.message),
            response.deduplicated,
            tuple(SkippedRecipient.from_proto(s) for s in response.skipped),
        )

    async def reply_message(
        self,
        message_id: int,
        *,
        body: str,
        subject: str = "",
        to: str | Iterable[str] = (),
        cc: str | Iterable[str] = (),
        reply_all: bool = False,
        importance: Importance | None = None,
        ack_required: bool = False,
        idempotency_key: str | None = None,
        timeout: float | None = None,
    ) -> SendMessageResult:
        """Replies to a message this client's agent sent or received, in the same thread.

        Args:
            message_id: The message replied to.
            body: Markdown, at most 1 MiB of UTF-8.
            subject: Empty means ``"Re: "`` + the original subject.
            to: Extra recipients beyond the original's sender.
            cc: Extra copied recipients.
            reply_all: Also address the original's to and cc.
            importance: ``None`` means the original's importance.
            ack_required: Ask recipients to acknowledge.
            idempotency_key: Makes the reply safe to repeat (and retried); bound to the
                content and the message replied to, as for :meth:`send_message`.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.
        """
        request = mail_service_pb2.ReplyMessageRequest(
            message_id=message_id,
            body=body,
            subject=subject,
            to=_names(to),
            cc=_names(cc),
            reply_all=reply_all,
            importance=_importance(importance),
            ack_required=ack_required,
            idempotency_key=idempotency_key or "",
        )
        kind = CallKind.WRITE if not idempotency_key else CallKind.IDEMPOTENT_WRITE
        response = await self._call(self._connection.mail.ReplyMessage, request, kind, timeout)
        return SendMessageResult(Message.from_proto(response.message), response.deduplicated)

    async def get_message(
        self, message_id: int, *, timeout: float | None = None
    ) -> GetMessageResult:
        """Returns a message the agent sent or received, without marking it read.

        When the agent sent it, ``receipts`` holds each recipient's delivery, read and
        acknowledgement times; a recipient never sees another reader's state.

        Args:
            message_id: The message.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``MESSAGE_NOT_FOUND``, also for a message the agent may not see.
        """
        request = mail_service_pb2.GetMessageRequest(message_id=message_id)
        response = await self._call(
            self._connection.mail.GetMessage, request, CallKind.READ, timeout
        )
        delivery = (
            InboxItem.from_proto(response.delivery) if response.HasField("delivery") else None
        )
        receipts = tuple(Receipt.from_proto(r) for r in response.receipts)
        return GetMessageResult(Message.from_proto(response.message), delivery, receipts)

    async def list_inbox(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        order: InboxOrder = InboxOrder.OLDEST_FIRST,
        unread_only: bool = False,
        urgent_only: bool = False,
        topic: str = "",
        thread_id: str = "",
        include_bodies: bool = True,
        timeout: float | None = None,
    ) -> Page[InboxItem]:
        """Returns a page of the agent's inbox without changing any read state.

        Args:
            page_size: Most items; 0 means the server default (50).
            page_token: A ``next_page_token``, or (OLDEST_FIRST) an item's ``cursor``.
            order: OLDEST_FIRST (process each message once) or NEWEST_FIRST.
            unread_only: Only messages not yet marked read.
            urgent_only: Only HIGH and URGENT messages.
            topic: Only this topic.
            thread_id: Only this thread.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            InvalidArgument: ``INVALID_PAGE_TOKEN`` for a token or cursor this server did not
                issue to this agent for this order.
            OutOfRange: ``CURSOR_AHEAD`` for a cursor past the end of the inbox (the server's
                data was restored from a backup older than the cursor).
        """
        request = mail_service_pb2.ListInboxRequest(
            page_size=page_size,
            page_token=page_token,
            order=order.to_proto(),
            unread_only=unread_only,
            urgent_only=urgent_only,
            topic=topic,
            thread_id=thread_id,
            view=_view(include_bodies),
        )
        response = await self._call(
            self._connection.mail.ListInbox, request, CallKind.READ, timeout
        )
        items = tuple(InboxItem.from_proto(item) for item in response.items)
        return Page(items, response.next_page_token)

    async def list_outbox(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        include_bodies: bool = True,
        include_receipts: bool = False,
        timeout: float | None = None,
    ) -> OutboxPage:
        """Returns a page of what the agent sent, newest first, bcc included.

        Args:
            page_size: Most messages; 0 means the server default (50).
            page_token: ``next_page_token`` of the previous page.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            include_receipts: Also return each message's receipts (``OutboxPage.receipts``,
                or ``receipts_for(message_id)``): one more index seek for the page.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.
        """
        request = mail_service_pb2.ListOutboxRequest(
            page_size=page_size,
            page_token=page_token,
            view=_view(include_bodies),
            include_receipts=include_receipts,
        )
        response = await self._call(
            self._connection.mail.ListOutbox, request, CallKind.READ, timeout
        )
        items = tuple(Message.from_proto(m) for m in response.messages)
        receipts = tuple(MessageReceipts.from_proto(entry) for entry in response.receipts)
        return OutboxPage(items, response.next_page_token, receipts)

    async def get_thread(
        self,
        thread_id: str,
        *,
        page_size: int = 0,
        page_token: str = "",
        include_bodies: bool = True,
        timeout: float | None = None,
    ) -> Page[Message]:
        """Returns a page of the thread's messages visible to the agent, oldest first.

        Args:
            thread_id: The thread.
            page_size: Most messages; 0 means the server default (100).
            page_token: ``next_page_token`` of the previous page.
            include_bodies: False leaves bodies empty (``body_size_bytes`` stays set).
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``THREAD_NOT_FOUND`` when the agent can see none of it.
        """
        request = mail_service_pb2.GetThreadRequest(
            thread_id=thread_id,
            page_size=page_size,
            page_token=page_token,
            view=_view(include_bodies),
        )
        response = await self._call(
            self._connection.mail.GetThread, request, CallKind.READ, timeout
        )
        items = tuple(Message.from_proto(m) for m in response.messages)
        return Page(items, response.next_page_token)

    async def mark_read(
        self, message_ids: int | Iterable[int], *, timeout: float | None = None
    ) -> tuple[DeliveryState, ...]:
        """Marks received messages read; the first read time wins.

        Args:
            message_ids: One id or 1 to 1,000 ids of messages the agent received.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Returns:
            One state per distinct id, in request order.

        Raises:
            NotFound: ``MESSAGE_NOT_FOUND`` (nothing changed) when any id was not received.
        """
        request = mail_service_pb2.MarkReadRequest(message_ids=_ids(message_ids))
        response = await self._call(
            self._connection.mail.MarkRead, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return tuple(DeliveryState.from_proto(s) for s in response.states)

    async def acknowledge_message(
        self, message_ids: int | Iterable[int], *, timeout: float | None = None
    ) -> tuple[DeliveryState, ...]:
        """Acknowledges received messages, marking them read too; the first time wins.

        Args:
            message_ids: One id or 1 to 1,000 ids of messages the agent received.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.write``.

        Returns:
            One state per distinct id, in request order.
        """
        request = mail_service_pb2.AcknowledgeMessageRequest(message_ids=_ids(message_ids))
        response = await self._call(
            self._connection.mail.AcknowledgeMessage, request, CallKind.IDEMPOTENT_WRITE, timeout
        )
        return tuple(DeliveryState.from_proto(s) for s in response.states)

    async def summarize_thread(
        self, thread_id: str, *, recent_count: int = 0, timeout: float | None = None
    ) -> ThreadSummary:
        """Summarises a thread the agent can see, computed by the server without any model.

        Participants, size, time span, open action items (unchecked ``- [ ]`` checkboxes and
        lines with ``TODO``, ``ACTION`` or ``BLOCKED``) and the latest messages, all as the
        agent may see them (bcc restricted as everywhere else).

        Args:
            thread_id: The thread.
            recent_count: How many of the latest messages to include; 0 means the server
                default (3); more than 20 is capped at 20.
            timeout: Deadline of each attempt in seconds; defaults to ``timeouts.read``.

        Raises:
            NotFound: ``THREAD_NOT_FOUND`` when the agent can see none of it.
            InvalidArgument: An empty or too long ``thread_id``, or a negative
                ``recent_count``.
        """
        request = mail_service_pb2.SummarizeThreadRequest(
            thread_id=thread_id, recent_count=recent_count
        )
        response = await self._call(
            self._connection.mail.SummarizeThread, request, CallKind.READ, timeout
        )
        return ThreadSummary.from_proto(response)
