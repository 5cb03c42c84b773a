"""Subscription hub: fans committed messages and notices out to live inbox subscriptions.

Each subscription has a small bounded buffer of notifications. The commit feed
calls :meth:`Hub.publish` on the event loop after each commit (never before: a subscriber never sees
a message that is not durable). Publishing never blocks and never allocates more than the
bounds allow: when a subscriber's buffer is full, the buffer is dropped and the subscriber is
marked *overflowed*; its stream then catches up from storage after its last delivered cursor
and returns to live delivery once caught up. Mail is never dropped, because storage has it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import time

from agentmail_server.domain.events import Commit
from agentmail_server.domain.models import Message, RecipientKind
from agentmail_server.domain.notices import Notice


@dataclasses.dataclass(frozen=True)
class HubStats:
    """A snapshot of the hub for metrics and tests."""

    subscriptions: int
    subscribed_agents: int
    buffered_events: int
    buffer_capacity: int
    published_messages: int
    delivered_notifications: int
    overflows: int
    catch_ups: int


@dataclasses.dataclass(frozen=True, slots=True)
class Notification:
    """A committed message for one recipient (the message object is shared by all)."""

    message: Message
    kind: RecipientKind


# What a subscription buffers: a message for its agent, or a notice stored for it.
Buffered = Notification | Notice

BUFFERED, OVERFLOWED, SKIPPED = range(3)


class Subscription:
    """One live stream's buffer. Owned by the hub; read by exactly one stream task."""

    __slots__ = (
        "_capacity",
        "_waiter",
        "agent_id",
        "buffer",
        "closed",
        "overflowed",
        "revoked",
    )

    def __init__(self, agent_id: int, capacity: int) -> None:
        self.agent_id = agent_id
        self._capacity = capacity
        self.buffer: collections.deque[Buffered] = collections.deque()
        self.overflowed = False
        self.closed = False
        # Closed because the agent's tokens were revoked or rotated: the stream ends with
        # UNAUTHENTICATED rather than the shutdown frame.
        self.revoked = False
        # The stream's pending wait, if any. A bare future and a timer handle rather than
        # asyncio.wait_for over an Event: wait_for starts a task per wait, and an idle stream
        # waits once per heartbeat, so with many idle streams that was most of their CPU.
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        _resolve(self._waiter)

    def _offer(self, notification: Buffered) -> int:
        """Buffer a notification: BUFFERED, OVERFLOWED (just now) or SKIPPED (already)."""
        if self.overflowed:
            return SKIPPED
        if len(self.buffer) >= self._capacity:
            # Drop what is buffered rather than grow: the stream re-reads it from storage.
            self.buffer.clear()
            self.overflowed = True
            self._wake()
            return OVERFLOWED
        self.buffer.append(notification)
        self._wake()
        return BUFFERED

    def take_overflow(self) -> bool:
        """Whether the buffer overflowed since the last call; resets the flag and buffer.

        After this returns True the caller must re-read storage after its last delivered
        cursor: everything committed from now on is buffered again.
        """
        if not self.overflowed:
            return False
        self.overflowed = False
        self.buffer.clear()
        return True

    async def wait(self, max_seconds: float) -> None:
        """Wait until something is buffered, the buffer overflowed, the hub closed, or timeout."""
        if self.buffer or self.overflowed or self.closed:
            return
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiter = waiter
        timer = loop.call_later(max_seconds, _resolve, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None

    def _close(self) -> None:
        self.closed = True
        self._wake()


def _position(entry: tuple[int, Notice]) -> int:
    return entry[0]


def _resolve(waiter: asyncio.Future[None] | None) -> None:
    if waiter is not None and not waiter.done():
        waiter.set_result(None)


class Hub:
    """Registry of live subscriptions by agent, fed by the commit feed."""

    def __init__(self, buffer_capacity: int, max_subscriptions: int) -> None:
        self._capacity = buffer_capacity
        self._max = max_subscriptions
        self._by_agent: dict[int, set[Subscription]] = {}
        self._count = 0
        self._closed = False
        self._published = 0
        self._delivered = 0
        self._overflows = 0
        self._catch_ups = 0
        self._drained = asyncio.Event()
        # Set at each subscribe after close(): a stream that reached the stopping server.
        self._arrived = asyncio.Event()
        self._last_arrival = float("-inf")

    @property
    def closed(self) -> bool:
        """Whether the hub is shutting down."""
        return self._closed

    def subscribe(self, agent_id: int) -> Subscription | None:
        """Register a live subscription; None when the hub is full.

        After :meth:`close` the subscription is returned already closed: its stream sends
        only its final frame, and :meth:`wait_quiet` waits for that to happen.
        """
        if self._count >= self._max:
            return None
        subscription = Subscription(agent_id, self._capacity)
        self._by_agent.setdefault(agent_id, set()).add(subscription)
        self._count += 1
        if self._closed:
            subscription._close()
            self._drained.clear()
            self._last_arrival = time.monotonic()
            self._arrived.set()
        return subscription

    def subscriptions_of(self, agent_id: int) -> int:
        """How many live subscriptions ``agent_id`` holds."""
        peers = self._by_agent.get(agent_id)
        return 0 if peers is None else len(peers)

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        peers = self._by_agent.get(subscription.agent_id)
        if peers is None or subscription not in peers:
            return
        peers.discard(subscription)
        self._count -= 1
        if not peers:
            del self._by_agent[subscription.agent_id]
        if self._closed and self._count == 0:
            self._drained.set()

    def record_catch_up(self) -> None:
        """Count one switch of a stream from live delivery to reading storage."""
        self._catch_ups += 1

    def publish(self, commit: Commit) -> None:
        """Commit-feed listener: fan new messages out to their recipients' subscriptions,
        and notices to the subscriptions of the agent each is for, in position order.

        Never blocks.
        """
        if not self._by_agent:
            return
        # Messages and notices of one commit are offered in position order, so a stream
        # that skips what it already replayed (position <= its last) skips nothing new.
        pending = [(notice.position, notice) for notice in commit.notices]
        pending.sort(key=_position)
        waiting = 0
        for result in commit.messages:
            while waiting < len(pending) and pending[waiting][0] < result.message.id:
                self._offer_notice(pending[waiting][1])
                waiting += 1
            self._published += 1
            for recipient in result.recipients:
                peers = self._by_agent.get(recipient.agent_id)
                if not peers:
                    continue
                notification = Notification(result.message, recipient.kind)
                for subscription in peers:
                    self._count_offer(subscription._offer(notification))
        for _, notice in pending[waiting:]:
            self._offer_notice(notice)

    def _offer_notice(self, notice: Notice) -> None:
        for subscription in self._by_agent.get(notice.agent_id, ()):
            self._count_offer(subscription._offer(notice))

    def _count_offer(self, outcome: int) -> None:
        if outcome == BUFFERED:
            self._delivered += 1
        elif outcome == OVERFLOWED:
            self._overflows += 1

    def end_agent(self, agent_id: int) -> int:
        """End the agent's live subscriptions because its tokens changed (revoked, or rotated
        without overlap); each stream then fails with UNAUTHENTICATED. Returns how many."""
        peers = self._by_agent.get(agent_id, ())
        for subscription in peers:
            subscription.revoked = True
            subscription._close()
        return len(peers)

    def close(self) -> None:
        """Wake every stream so it can send its final frame and end (with UNAVAILABLE)
        before the server stops; the quiet period of :meth:`wait_quiet` starts now."""
        self._closed = True
        self._last_arrival = time.monotonic()
        for peers in self._by_agent.values():
            for subscription in peers:
                subscription._close()
        if self._count == 0:
            self._drained.set()

    async def wait_drained(self, max_seconds: float) -> bool:
        """After :meth:`close`, wait until every stream has ended; False on timeout."""
        try:
            await asyncio.wait_for(self._drained.wait(), max(0.0, max_seconds))
        except TimeoutError:
            return False
        return True

    async def wait_quiet(self, quiet_seconds: float, max_seconds: float) -> bool:
        """After :meth:`close`, wait until every stream has ended and none has arrived for
        ``quiet_seconds``; False when ``max_seconds`` pass first.

        Why the quiet period: a stream the client opened just before the shutdown reaches the
        server a moment later. Stopping gRPC in that moment makes gRPC cancel it (a bare
        CANCELLED, no final frame); waiting for arrivals to stop lets each one receive its
        final frame. Clients told to retry after a delay longer than the quiet period do not
        keep it open.
        """
        deadline = time.monotonic() + max_seconds
        while True:
            if not await self.wait_drained(deadline - time.monotonic()):
                return False
            quiet_until = self._last_arrival + quiet_seconds
            now = time.monotonic()
            if now >= quiet_until:
                return True
            if now >= deadline:
                return False
            self._arrived.clear()
            # A timeout means quiet for long enough (or out of time): checked at the top.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(quiet_until, deadline) - now)

    def stats(self) -> HubStats:
        """A snapshot of subscriptions, buffered events and overflow counters."""
        return HubStats(
            subscriptions=self._count,
            subscribed_agents=len(self._by_agent),
            buffered_events=sum(len(s.buffer) for p in self._by_agent.values() for s in p),
            buffer_capacity=self._capacity,
            published_messages=self._published,
            delivered_notifications=self._delivered,
            overflows=self._overflows,
            catch_ups=self._catch_ups,
        )
