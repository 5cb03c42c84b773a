"""Bulk sending: many messages per SendMessages call, one result or error per message.

One call carrying 64 messages moves far more messages per second than 64 SendMessage calls
(gRPC's per-call cost, not the work per message, bounds unary sends). :meth:`send_many` cuts
any number of messages into calls of at most ``per_call`` and returns every message's outcome
in order; a bad message fails alone, as the same typed error SendMessage would have raised.
"""

# ruff: noqa: ASYNC109 -- `timeout` becomes the gRPC deadline (see _mail.py).

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import grpc
from agentmail.v1 import mail_service_pb2

from ._contact_models import SkippedRecipient
from ._errors import AgentmailError, FieldViolation, error_class_for
from ._mail import _importance, _names
from ._models import Importance, Message, SendMessageResult
from ._transport import CallKind, ClientBase

# The server's default bound on messages per call (its max_sends_per_call).
DEFAULT_PER_CALL = 500
_ERROR_DOMAIN = "agentmail.dev"
_CODES = {code.value[0]: code for code in grpc.StatusCode}


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    """One message for :meth:`BulkCalls.send_many`; the fields mean what the arguments of
    ``send_message`` mean."""

    to: str | Iterable[str] = ()
    subject: str = ""
    body: str = ""
    cc: str | Iterable[str] = ()
    bcc: str | Iterable[str] = ()
    importance: Importance | None = None
    ack_required: bool = False
    thread_id: str = ""
    topic: str = ""
    idempotency_key: str | None = None
    broadcast: bool = False

    def to_proto(self) -> mail_service_pb2.SendMessageRequest:
        """The wire form: one SendMessages item."""
        return mail_service_pb2.SendMessageRequest(
            to=_names(self.to),
            cc=_names(self.cc),
            bcc=_names(self.bcc),
            subject=self.subject,
            body=self.body,
            importance=_importance(self.importance),
            ack_required=self.ack_required,
            thread_id=self.thread_id,
            topic=self.topic,
            idempotency_key=self.idempotency_key or "",
            broadcast=self.broadcast,
        )


def _item_error(error: mail_service_pb2.SendError) -> AgentmailError:
    code = _CODES.get(error.code, grpc.StatusCode.UNKNOWN)
    violations = (FieldViolation(error.field, error.message),) if error.field else ()
    return error_class_for(code)(
        error.message,
        code=code,
        reason=error.reason or None,
        domain=_ERROR_DOMAIN,
        metadata=dict(error.metadata),
        field_violations=violations,
    )


def _outcome(
    result: mail_service_pb2.SendMessagesResult,
) -> SendMessageResult | AgentmailError:
    if result.WhichOneof("outcome") == "error":
        return _item_error(result.error)
    sent = result.sent
    return SendMessageResult(
        Message.from_proto(sent.message),
        sent.deduplicated,
        tuple(SkippedRecipient.from_proto(s) for s in sent.skipped),
    )


class BulkCalls(ClientBase):
    """SendMessages for :class:`~agentmail_client.AgentmailClient`."""

    async def send_many(
        self,
        messages: Iterable[OutgoingMessage],
        *,
        per_call: int = DEFAULT_PER_CALL,
        timeout: float | None = None,
    ) -> list[SendMessageResult | AgentmailError]:
        """Sends every message as this client's agent, ``per_call`` to a call, in order.

        Each message is judged exactly as ``send_message`` judges it; a message that fails
        does so alone and its error (the exception ``send_message`` would have raised, not
        raised here) takes its place in the result. Calls are made one after another; a call
        whose messages all carry idempotency keys is retried like an idempotent send.

        Args:
            messages: The messages, in the order their ids will follow.
            per_call: Messages per SendMessages call (at most the server's
                ``max_sends_per_call``, 500 by default).
            timeout: Deadline of each call in seconds; defaults to ``timeouts.write``.

        Returns:
            One :class:`SendMessageResult` or :class:`AgentmailError` per message, in order.

        Raises:
            InvalidArgument: ``per_call`` is above the server's limit (``TOO_MANY_SENDS``).
            ResourceExhausted: ``RATE_LIMITED`` (the write limit counts messages) once
                retries ran out; the messages of earlier calls were sent.
            ValueError: ``per_call`` is below 1.
        """
        if per_call < 1:
            raise ValueError("per_call must be >= 1")
        items = [message.to_proto() for message in messages]
        results: list[SendMessageResult | AgentmailError] = []
        for start in range(0, len(items), per_call):
            chunk = items[start : start + per_call]
            keyed = all(item.idempotency_key for item in chunk)
            kind = CallKind.IDEMPOTENT_WRITE if keyed else CallKind.WRITE
            response = await self._call(
                self._connection.mail.SendMessages,
                mail_service_pb2.SendMessagesRequest(messages=chunk),
                kind,
                timeout,
            )
            results.extend(_outcome(result) for result in response.results)
        return results
