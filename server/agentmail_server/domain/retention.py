"""What a retention purge removed (or, in a dry run, would remove)."""

from __future__ import annotations

import dataclasses

MICROS_PER_DAY = 24 * 3600 * 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Purged:
    """Mail removed by one purge batch, or counted by a dry run.

    Attributes:
        messages: messages (and their search index entries) removed.
        deliveries: inbox entries removed with them.
        idempotency_keys: idempotency keys of those messages removed.
        first_id: the oldest message id removed (0 when none).
        last_id: the newest message id removed (0 when none).
        more: the batch was full: older mail may remain for the next batch.
        notices: coordination events removed with the mail around them.
    """

    messages: int = 0
    deliveries: int = 0
    idempotency_keys: int = 0
    first_id: int = 0
    last_id: int = 0
    more: bool = False
    notices: int = 0

    def __add__(self, other: Purged) -> Purged:
        """Totals of two consecutive batches (``other`` is the later one)."""
        return Purged(
            messages=self.messages + other.messages,
            deliveries=self.deliveries + other.deliveries,
            idempotency_keys=self.idempotency_keys + other.idempotency_keys,
            first_id=self.first_id or other.first_id,
            last_id=other.last_id or self.last_id,
            more=other.more,
            notices=self.notices + other.notices,
        )


def cutoff(now: int, days: int) -> int:
    """The creation time (microseconds) before which mail is older than ``days`` days."""
    return now - days * MICROS_PER_DAY
