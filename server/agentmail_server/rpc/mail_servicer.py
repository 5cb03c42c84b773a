"""MailService over gRPC: authenticate, convert, delegate to the Mailer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from agentmail.v1 import mail_service_pb2, mail_service_pb2_grpc, receipts_pb2

from agentmail_server.domain.filters import InboxFilter
from agentmail_server.errors import AgentmailError
from agentmail_server.rpc import bulk_convert, convert, wire
from agentmail_server.rpc.authorization import Gate
from agentmail_server.rpc.notices_pb import agent_event_pb
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.bulk_send import BulkSender, SendItem
from agentmail_server.services.compose import Compose
from agentmail_server.services.mail import Mailer
from agentmail_server.services.receipts import AckTracker
from agentmail_server.services.subscriptions import (
    Heartbeat,
    InboxStreamer,
    StreamEnd,
    StreamNotice,
)

_M = "/agentmail.v1.MailService/"  # method names in the authorisation table
Context = Any  # grpc.aio.ServicerContext; the generated base class types it loosely


def _compose(request: mail_service_pb2.SendMessageRequest) -> Compose:
    """The message a SendMessage request (or a SendMessages item) asks to compose."""
    return Compose(
        subject=request.subject,
        body=request.body,
        importance=request.importance,
        ack_required=request.ack_required,
        thread_id=request.thread_id,
        topic=request.topic,
        idempotency_key=request.idempotency_key,
    )


def _send_item(request: mail_service_pb2.SendMessageRequest) -> SendItem | AgentmailError:
    """One SendMessages item as the service takes it, or its wire error (that item's alone)."""
    try:
        wire.check_request(request)
    except AgentmailError as exc:
        return exc
    return SendItem(_compose(request), request.to, request.cc, request.bcc, request.broadcast)


class MailServicer(mail_service_pb2_grpc.MailServiceServicer):
    """Sending and reading mail on behalf of the authenticated agent."""

    def __init__(
        self,
        mailer: Mailer,
        streamer: InboxStreamer,
        gate: Gate,
        auth: Authenticator,
        acks: AckTracker,
        *,
        bulk: BulkSender,
    ) -> None:
        self._bulk = bulk
        self._mailer = mailer
        self._streamer = streamer
        self._gate = gate
        self._auth = auth
        self._acks = acks

    async def SendMessage(
        self, request: mail_service_pb2.SendMessageRequest, context: Context
    ) -> mail_service_pb2.SendMessageResponse:
        caller = await self._gate.agent(context, _M + "SendMessage")
        wire.check_request(request)
        compose = _compose(request)
        sent = await self._mailer.send(
            caller, compose, request.to, request.cc, request.bcc, request.broadcast
        )
        return mail_service_pb2.SendMessageResponse(
            message=convert.message_pb(sent.message, caller.project_slug),
            deduplicated=sent.deduplicated,
            skipped=[convert.skipped_pb(skipped) for skipped in sent.skipped],
        )

    async def SendMessages(
        self, request: mail_service_pb2.SendMessagesRequest, context: Context
    ) -> mail_service_pb2.SendMessagesResponse:
        caller = await self._gate.agent(context, _M + "SendMessages")
        outcomes = await self._bulk.send_many(caller, [_send_item(m) for m in request.messages])
        return bulk_convert.send_messages_response(outcomes, caller.project_slug)

    async def ReplyMessage(
        self, request: mail_service_pb2.ReplyMessageRequest, context: Context
    ) -> mail_service_pb2.ReplyMessageResponse:
        caller = await self._gate.agent(context, _M + "ReplyMessage")
        wire.check_request(request)
        compose = Compose(
            subject=request.subject,
            body=request.body,
            importance=request.importance,
            ack_required=request.ack_required,
            idempotency_key=request.idempotency_key,
        )
        sent = await self._mailer.reply(
            caller, request.message_id, compose, request.to, request.cc, request.reply_all
        )
        return mail_service_pb2.ReplyMessageResponse(
            message=convert.message_pb(sent.message, caller.project_slug),
            deduplicated=sent.deduplicated,
        )

    async def GetMessage(
        self, request: mail_service_pb2.GetMessageRequest, context: Context
    ) -> mail_service_pb2.GetMessageResponse:
        caller = await self._gate.agent(context, _M + "GetMessage")
        message, delivery = await self._mailer.get(caller, request.message_id)
        response = mail_service_pb2.GetMessageResponse(
            message=convert.message_pb(message, caller.project_slug)
        )
        if delivery is not None:
            response.delivery.CopyFrom(
                convert.inbox_item_pb(
                    message, delivery, caller.project_slug, self._mailer.cursor(caller, message.id)
                )
            )
        receipts = await self._acks.receipts(caller, [message])  # none unless the sender
        response.receipts.extend(convert.receipt_pb(r) for r in receipts.get(message.id, ()))
        return response

    async def ListInbox(
        self, request: mail_service_pb2.ListInboxRequest, context: Context
    ) -> mail_service_pb2.ListInboxResponse:
        caller = await self._gate.agent(context, _M + "ListInbox")
        wire.check_request(request)
        page = await self._mailer.inbox(
            caller,
            InboxFilter(
                unread_only=request.unread_only,
                urgent_only=request.urgent_only,
                topic=request.topic,
                thread_id=request.thread_id,
            ),
            newest_first=request.order == mail_service_pb2.INBOX_ORDER_NEWEST_FIRST,
            page_size=request.page_size,
            page_token=request.page_token,
            include_bodies=convert.include_bodies(request.view),
        )
        return convert.inbox_response(
            page.rows, page.cursors, caller.project_slug, page.next_page_token
        )

    async def ListOutbox(
        self, request: mail_service_pb2.ListOutboxRequest, context: Context
    ) -> mail_service_pb2.ListOutboxResponse:
        caller = await self._gate.agent(context, _M + "ListOutbox")
        wire.check_request(request)
        messages, token = await self._mailer.outbox(
            caller, request.page_size, request.page_token, convert.include_bodies(request.view)
        )
        response = mail_service_pb2.ListOutboxResponse(
            messages=[convert.message_pb(m, caller.project_slug) for m in messages],
            next_page_token=token,
        )
        if request.include_receipts:
            receipts = await self._acks.receipts(caller, messages)
            response.receipts.extend(
                receipts_pb2.MessageReceipts(
                    message_id=m.id,
                    receipts=[convert.receipt_pb(r) for r in receipts.get(m.id, ())],
                )
                for m in messages
            )
        return response

    async def GetThread(
        self, request: mail_service_pb2.GetThreadRequest, context: Context
    ) -> mail_service_pb2.GetThreadResponse:
        caller = await self._gate.agent(context, _M + "GetThread")
        wire.check_request(request)
        messages, token = await self._mailer.thread(
            caller,
            request.thread_id,
            request.page_size,
            request.page_token,
            convert.include_bodies(request.view),
        )
        return mail_service_pb2.GetThreadResponse(
            messages=[convert.message_pb(m, caller.project_slug) for m in messages],
            next_page_token=token,
        )

    async def MarkRead(
        self, request: mail_service_pb2.MarkReadRequest, context: Context
    ) -> mail_service_pb2.MarkReadResponse:
        caller = await self._gate.agent(context, _M + "MarkRead")
        states = await self._mailer.mark(caller, request.message_ids, acknowledge=False)
        return mail_service_pb2.MarkReadResponse(
            states=[convert.delivery_state_pb(s) for s in states]
        )

    async def AcknowledgeMessage(
        self, request: mail_service_pb2.AcknowledgeMessageRequest, context: Context
    ) -> mail_service_pb2.AcknowledgeMessageResponse:
        caller = await self._gate.agent(context, _M + "AcknowledgeMessage")
        states = await self._mailer.mark(caller, request.message_ids, acknowledge=True)
        return mail_service_pb2.AcknowledgeMessageResponse(
            states=[convert.delivery_state_pb(s) for s in states]
        )

    async def SummarizeThread(
        self, request: mail_service_pb2.SummarizeThreadRequest, context: Context
    ) -> mail_service_pb2.SummarizeThreadResponse:
        caller = await self._gate.agent(context, _M + "SummarizeThread")
        summary = await self._mailer.summarize(caller, request.thread_id, request.recent_count)
        return mail_service_pb2.SummarizeThreadResponse(
            thread_id=summary.thread_id,
            subject=summary.subject,
            participants=summary.participants,
            message_count=summary.message_count,
            first_time=convert.timestamp(summary.first_at),
            last_time=convert.timestamp(summary.last_at),
            action_items=[
                mail_service_pb2.ActionItem(
                    message_id=item.message_id, author=item.author, text=item.text, kind=item.kind
                )
                for item in summary.action_items
            ],
            recent_messages=[convert.message_pb(m, caller.project_slug) for m in summary.recent],
        )

    async def ListPendingAcks(
        self, request: receipts_pb2.ListPendingAcksRequest, context: Context
    ) -> receipts_pb2.ListPendingAcksResponse:
        caller = await self._gate.agent(context, _M + "ListPendingAcks")
        wire.check_request(request)
        page = await self._acks.pending_acks(
            caller,
            page_size=request.page_size,
            page_token=request.page_token,
            newest_first=request.order == receipts_pb2.ACK_ORDER_NEWEST_FIRST,
            overdue_only=request.overdue_only,
            overdue_seconds=request.overdue_seconds,
            include_bodies=convert.include_bodies(request.view),
        )
        return receipts_pb2.ListPendingAcksResponse(
            items=[
                convert.pending_ack_pb(item, caller.project_slug, page.cutoff)
                for item in page.items
            ],
            next_page_token=page.next_page_token,
            overdue_seconds=page.overdue_seconds,
        )

    async def ListUnacknowledged(
        self, request: receipts_pb2.ListUnacknowledgedRequest, context: Context
    ) -> receipts_pb2.ListUnacknowledgedResponse:
        caller = await self._gate.agent(context, _M + "ListUnacknowledged")
        wire.check_request(request)
        page = await self._acks.unacknowledged(
            caller,
            page_size=request.page_size,
            page_token=request.page_token,
            include_bodies=convert.include_bodies(request.view),
        )
        return receipts_pb2.ListUnacknowledgedResponse(
            items=[
                convert.item_pb(item, caller.project_slug, cursor)
                for item, cursor in zip(page.items, page.cursors, strict=True)
            ],
            next_page_token=page.next_page_token,
        )

    async def SubscribeInbox(
        self, request: mail_service_pb2.SubscribeInboxRequest, context: Context
    ) -> AsyncIterator[mail_service_pb2.SubscribeInboxResponse]:
        caller = await self._gate.agent(context, _M + "SubscribeInbox")
        wire.check_request(request)
        flt = InboxFilter(
            urgent_only=request.urgent_only, topic=request.topic, thread_id=request.thread_id
        )
        bodies = convert.include_bodies(request.view)
        events = self._streamer.stream(
            caller, request.cursor, flt, bodies, mail_only=request.mail_only
        )
        async for event in events:
            if isinstance(event, Heartbeat):
                # The token is checked again at each heartbeat (a cache hit, which also marks
                # the agent active): a stream opened with a token that has since expired (a
                # rotation's overlap ran out) or was revoked by another process ends within
                # one heartbeat. Revocations in this process end it at once (Hub.end_agent).
                await self._gate.agent(context, _M + "SubscribeInbox")
                yield mail_service_pb2.SubscribeInboxResponse(
                    heartbeat=mail_service_pb2.Heartbeat(
                        tail_cursor=event.cursor,
                        server_time=convert.timestamp(event.server_time),
                    )
                )
            elif isinstance(event, StreamEnd):
                yield mail_service_pb2.SubscribeInboxResponse(end=_stream_end_pb(event))
            elif isinstance(event, StreamNotice):
                yield mail_service_pb2.SubscribeInboxResponse(
                    agent_event=agent_event_pb(event.notice, event.cursor)
                )
            else:
                yield mail_service_pb2.SubscribeInboxResponse(
                    item=convert.item_pb(event.item, caller.project_slug, event.cursor)
                )


def _stream_end_pb(end: StreamEnd) -> mail_service_pb2.SubscribeInboxResponse.StreamEnd:
    """The final frame; no position (a refused stream without a cursor) is an empty cursor."""
    return mail_service_pb2.SubscribeInboxResponse.StreamEnd(
        resume_cursor=end.cursor,
        reason=end.reason,
        retry_after_ms=max(1, round(end.retry_after_seconds * 1000)),
    )
