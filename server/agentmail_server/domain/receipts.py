"""Receipts: each recipient's delivery, read and acknowledgement times, for a message's sender.

Only a message's sender ever sees its receipts (bcc recipients included, since the sender chose
them); a recipient sees its own state through its :class:`~.models.Delivery` and nobody else's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from agentmail_server.domain.models import Message, RecipientKind


@dataclasses.dataclass(frozen=True, slots=True)
class Receipt:
    """One recipient's state of a message.

    Attributes:
        recipient: The recipient's display name, as stored on the message.
        kind: How it was addressed.
        delivered_at: The message's commit time (every recipient gets it in the same commit).
        read_at: First read time, or None while unread.
        ack_at: First acknowledgement time, or None.
    """

    recipient: str
    kind: RecipientKind
    delivered_at: int
    read_at: int | None
    ack_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class PendingAck:
    """One of a sender's ack-required messages that some recipient has not acknowledged.

    Attributes:
        message: The message as stored (its sender's view, bcc included).
        pending: The recipients still to acknowledge, in address order; never empty.
    """

    message: Message
    pending: tuple[Receipt, ...]

    @property
    def acknowledged_count(self) -> int:
        """How many recipients have acknowledged already (every recipient has a delivery)."""
        message = self.message
        return len(message.to) + len(message.cc) + len(message.bcc) - len(self.pending)

    def is_overdue(self, cutoff: int) -> bool:
        """Whether the message was sent at or before ``cutoff`` (microseconds)."""
        return self.message.created_at <= cutoff


def in_address_order(message: Message, receipts: Iterable[Receipt]) -> tuple[Receipt, ...]:
    """``receipts`` (of ``message``) ordered as the message addresses them: to, cc, then bcc,
    each in the order written. A name is addressed once (duplicates collapse on send)."""
    rank = {
        (kind, name): index
        for index, (kind, name) in enumerate(
            [
                *((RecipientKind.TO, name) for name in message.to),
                *((RecipientKind.CC, name) for name in message.cc),
                *((RecipientKind.BCC, name) for name in message.bcc),
            ]
        )
    }
    # A name the message does not list (impossible for a consistent store) goes last.
    return tuple(sorted(receipts, key=lambda r: rank.get((r.kind, r.recipient), len(rank))))
