"""The flood guard: at most N messages per minute from one sender to one recipient.

Two agents answering each other automatically would otherwise fill each other's inbox as fast
as the writer commits. Each (sender, recipient) pair has a token bucket of N tokens refilled at
N per minute: a quiet pair may send N at once, then one every 60/N seconds.

Checked before the write, for every recipient of the message (a broadcast too), all or nothing:
a refused message takes no token from any pair. A message that is not stored (a deduplicated
idempotent repeat, a refusal by the contact rules, any failed write) gives its tokens back, so
only stored messages count. A repeat arriving while its pair is at the limit is refused like a
new message; the client's retry after the RetryInfo delay then returns the stored original.

State: one float per pair in a bounded LRU (see :mod:`.buckets`); concurrent sends on the
event loop see each other's tokens at once (the take happens before the write is awaited).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentmail_server.errors import QuotaViolation, ResourceExhausted
from agentmail_server.limits.buckets import Buckets

FLOOD_GUARD = "FLOOD_GUARD"


class FloodGuard:
    """Per-pair message budgets.

    Args:
        per_minute: messages one sender may send one recipient per minute (>= 1).
        capacity: the most pairs remembered (least recently used forgotten first).
        clock: monotonic seconds.
    """

    def __init__(self, per_minute: int, capacity: int, clock: Callable[[], float]) -> None:
        self._per_minute = per_minute
        self._buckets = Buckets(per_minute / 60.0, per_minute, capacity, clock)

    def take(
        self, sender_id: int, recipients: Sequence[tuple[int, str]]
    ) -> tuple[tuple[int, int], ...]:
        """Take one token for each (recipient id, name) from ``sender_id``'s pairs.

        Returns:
            the pairs charged, to :meth:`give_back` if the message is not stored.

        Raises:
            ResourceExhausted: FLOOD_GUARD for the first recipient over its limit, with the
                time until that pair has a token again; nothing is taken then.
        """
        buckets = self._buckets
        taken: list[tuple[int, int]] = []
        for recipient_id, name in recipients:
            pair = (sender_id, recipient_id)
            wait = buckets.take(pair)
            if wait:
                for done in taken:
                    buckets.give_back(done)
                raise self._refusal(name, wait)
            taken.append(pair)
        return tuple(taken)

    def give_back(self, pairs: Sequence[tuple[int, int]]) -> None:
        """Return the tokens of a message that was not stored."""
        for pair in pairs:
            self._buckets.give_back(pair)

    def _refusal(self, recipient: str, wait: float) -> ResourceExhausted:
        return ResourceExhausted(
            FLOOD_GUARD,
            f"too many messages to {recipient}: the limit is {self._per_minute} per minute "
            f"from one agent to one recipient; retry in {wait:.1f} s",
            metadata={
                "recipient": recipient,
                "perMinute": str(self._per_minute),
                "retryAfterMs": str(max(1, round(wait * 1000))),
            },
            retry_after_seconds=wait,
            quota_violations=[
                QuotaViolation(
                    subject=f"recipient:{recipient}",
                    description=f"{self._per_minute} messages per minute from one sender",
                )
            ],
        )
