"""Frozen models of receipts and acknowledgement tracking, and their wire conversion.

They follow :mod:`._models`: timestamps are timezone-aware UTC datetimes (``None`` when unset)
and repeated fields are tuples, so that every model is hashable and safe to share.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum

from agentmail.v1 import receipts_pb2

from ._models import Message, Page, RecipientKind, _stamp, _time


class AckOrder(enum.Enum):
    """Order of :meth:`~agentmail_client.AgentmailClient.list_pending_acks`."""

    OLDEST_FIRST = "oldest_first"
    """What has waited longest first."""
    NEWEST_FIRST = "newest_first"
    """The latest first."""

    def to_proto(self) -> receipts_pb2.AckOrder.ValueType:
        """Returns the wire value."""
        if self is AckOrder.NEWEST_FIRST:
            return receipts_pb2.ACK_ORDER_NEWEST_FIRST
        return receipts_pb2.ACK_ORDER_OLDEST_FIRST


@dataclasses.dataclass(frozen=True)
class Receipt:
    """One recipient's state of a message the caller sent (only its sender sees receipts).

    Attributes:
        recipient: The recipient's agent name.
        kind: How the recipient was addressed (bcc recipients included).
        deliver_time: When it was delivered: the message's commit time.
        read_time: When the recipient first marked it read, or ``None``.
        ack_time: When the recipient first acknowledged it, or ``None``.
    """

    recipient: str
    kind: RecipientKind
    deliver_time: datetime.datetime | None
    read_time: datetime.datetime | None
    ack_time: datetime.datetime | None

    @property
    def is_read(self) -> bool:
        """Whether the recipient has read the message (acknowledging also reads it)."""
        return self.read_time is not None

    @property
    def is_acknowledged(self) -> bool:
        """Whether the recipient has acknowledged the message."""
        return self.ack_time is not None

    @classmethod
    def from_proto(cls, pb: receipts_pb2.Receipt) -> Receipt:
        """Converts from the wire message."""
        return cls(
            recipient=pb.recipient,
            kind=RecipientKind.from_proto(pb.kind),
            deliver_time=_time(pb.deliver_time, pb.HasField("deliver_time")),
            read_time=_time(pb.read_time, pb.HasField("read_time")),
            ack_time=_time(pb.ack_time, pb.HasField("ack_time")),
        )

    def to_proto(self) -> receipts_pb2.Receipt:
        """Converts to the wire message."""
        return receipts_pb2.Receipt(
            recipient=self.recipient,
            kind=self.kind.to_proto(),
            deliver_time=_stamp(self.deliver_time),
            read_time=_stamp(self.read_time),
            ack_time=_stamp(self.ack_time),
        )


@dataclasses.dataclass(frozen=True)
class MessageReceipts:
    """The receipts of one message the caller sent.

    Attributes:
        message_id: The message.
        receipts: One per recipient, in the order of to, then cc, then bcc.
    """

    message_id: int
    receipts: tuple[Receipt, ...]

    @classmethod
    def from_proto(cls, pb: receipts_pb2.MessageReceipts) -> MessageReceipts:
        """Converts from the wire message."""
        return cls(pb.message_id, tuple(Receipt.from_proto(r) for r in pb.receipts))

    def to_proto(self) -> receipts_pb2.MessageReceipts:
        """Converts to the wire message."""
        return receipts_pb2.MessageReceipts(
            message_id=self.message_id, receipts=[r.to_proto() for r in self.receipts]
        )


@dataclasses.dataclass(frozen=True)
class OutboxPage(Page[Message]):
    """A page of :meth:`~agentmail_client.AgentmailClient.list_outbox`: a :class:`Page` of
    messages, with their receipts when they were asked for.

    Attributes:
        receipts: With ``include_receipts``, one entry per message, in page order; else empty.
    """

    receipts: tuple[MessageReceipts, ...] = ()

    def receipts_for(self, message_id: int) -> tuple[Receipt, ...]:
        """The receipts of one message of the page (empty when none were asked for)."""
        for entry in self.receipts:
            if entry.message_id == message_id:
                return entry.receipts
        return ()


@dataclasses.dataclass(frozen=True)
class PendingAck:
    """One of the caller's ack-required messages that some recipient has not acknowledged.

    Attributes:
        message: The message as its sender sees it (bcc included).
        pending: The recipients still to acknowledge (read or not), in address order.
        acknowledged_count: How many recipients have acknowledged already.
        overdue: Whether it was sent at least the page's ``overdue_seconds`` ago.
    """

    message: Message
    pending: tuple[Receipt, ...]
    acknowledged_count: int
    overdue: bool

    @classmethod
    def from_proto(cls, pb: receipts_pb2.PendingAck) -> PendingAck:
        """Converts from the wire message."""
        return cls(
            message=Message.from_proto(pb.message),
            pending=tuple(Receipt.from_proto(r) for r in pb.pending),
            acknowledged_count=pb.acknowledged_count,
            overdue=pb.overdue,
        )

    def to_proto(self) -> receipts_pb2.PendingAck:
        """Converts to the wire message."""
        return receipts_pb2.PendingAck(
            message=self.message.to_proto(),
            pending=[r.to_proto() for r in self.pending],
            acknowledged_count=self.acknowledged_count,
            overdue=self.overdue,
        )


@dataclasses.dataclass(frozen=True)
class PendingAcksPage(Page[PendingAck]):
    """A page of :meth:`~agentmail_client.AgentmailClient.list_pending_acks`.

    Attributes:
        overdue_seconds: The overdue threshold the server applied (the request's, or its
            ``ack_overdue_seconds`` setting).
    """

    overdue_seconds: int = 0
