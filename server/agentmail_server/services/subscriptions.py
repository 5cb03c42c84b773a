"""SubscribeInbox: replay the backlog after a cursor from storage, then deliver live.

The stream is the agent's mail and its notices (coordination events) in one position order:
notices take positions from the message id sequence, so the backlog is a merge of two key
range seeks and a cursor after either resumes after both.

Gap-free and duplicate-free across the switch: the stream registers with the hub *before*
reading storage, so anything committed during the read is buffered; buffered messages at or
below the last delivered id are skipped. After a buffer overflow the same catch-up runs again
from the last delivered id.

When the server shuts down (the hub closes), every stream's last event is a :class:`StreamEnd`
carrying the cursor to resume from, after which the stream raises ``Unavailable
SHUTTING_DOWN``: a client that reads the final frame knows exactly where to resume, and one
that does not still sees the retryable error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from agentmail_server.domain import limits
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.domain.filters import InboxFilter
from agentmail_server.domain.models import Delivery, Identity, Importance, InboxItem
from agentmail_server.domain.notices import Notice
from agentmail_server.errors import ResourceExhausted, Unauthenticated, Unavailable
from agentmail_server.hub import Hub, Notification, Subscription
from agentmail_server.services.inbox_cursors import InboxCursors
from agentmail_server.storage.ports import MailReads

CATCH_UP_PAGE = 256


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """Progress: the subscriber has been brought up to ``position`` (a message id), whose
    cursor for this subscriber is ``cursor``."""

    position: int
    server_time: int
    cursor: str


@dataclasses.dataclass(frozen=True)
class StreamItem:
    """One inbox item for the subscriber, with its cursor."""

    item: InboxItem
    cursor: str


@dataclasses.dataclass(frozen=True)
class StreamEnd:
    """The final event of a stream the server ends: resume strictly after ``cursor``.

    ``cursor`` is empty only for a stream refused before it had a position (no starting
    cursor): resuming "from now on" is then what the caller asked for anyway.
    """

    cursor: str
    reason: str
    retry_after_seconds: float


@dataclasses.dataclass(frozen=True)
class StreamNotice:
    """One notice (coordination event) for the subscriber, with its cursor."""

    notice: Notice
    cursor: str


StreamEvent = StreamItem | StreamNotice | Heartbeat | StreamEnd

SHUTTING_DOWN = "SHUTTING_DOWN"
SHUTDOWN_RETRY_SECONDS = 1.0


class InboxStreamer:
    """Builds the event stream of one subscription.

    An agent may hold ``max_per_agent`` streams at once; a newer one is refused
    (TOO_MANY_SUBSCRIPTIONS) rather than the oldest ended. Ending the oldest would let a
    client stuck in a reconnect loop (or a leaked token) cut off the agent's healthy stream
    over and over, each end followed by its reconnection; refusing keeps the working streams
    and tells the misbehaving caller exactly what is wrong. A client that lost its connection
    without the server noticing waits for keepalive (under a minute) to free the slot.
    """

    def __init__(
        self,
        hub: Hub,
        queries: MailReads,
        heartbeat_seconds: float,
        codec: CursorCodec,
        clock: Clock,
        *,
        max_per_agent: int = 8,
    ) -> None:
        self._hub = hub
        self._max_per_agent = max_per_agent
        self._clock = clock
        self._queries = queries
        self._heartbeat_seconds = heartbeat_seconds
        self._cursors = InboxCursors(codec, queries)

    def _check_agent_cap(self, caller: Identity) -> None:
        """Refuse a stream past the agent's cap (checked and registered without an await
        between, so concurrent opens cannot both pass)."""
        if self._hub.subscriptions_of(caller.agent_id) >= self._max_per_agent:
            raise ResourceExhausted(
                "TOO_MANY_SUBSCRIPTIONS",
                f"this agent already has {self._max_per_agent} open inbox streams, the most "
                "allowed; close one (or retry later)",
                metadata={"limit": "agent", "maxPerAgent": str(self._max_per_agent)},
                retry_after_seconds=5,
            )

    async def stream(
        self,
        caller: Identity,
        cursor: str,
        flt: InboxFilter,
        include_bodies: bool,
        *,
        mail_only: bool = False,
    ) -> AsyncIterator[StreamEvent]:
        """Events for ``caller``: backlog after ``cursor`` (or nothing when empty), a
        heartbeat once caught up, then live items and heartbeats while idle. Notices come
        in position order with the mail unless ``mail_only``; ``flt`` applies to mail."""
        limits.check_length("topic", flt.topic, limits.MAX_TOPIC_CHARS)
        limits.check_length("thread_id", flt.thread_id, limits.MAX_THREAD_ID_CHARS)
        # Checked before taking a subscription slot; the tail only grows meanwhile.
        position = await self._cursors.position(caller, cursor)
        self._check_agent_cap(caller)
        # Registered even while the server stops, so that the shutdown waits for this
        # stream's final frame to be sent rather than cutting it off (see Hub.wait_quiet).
        subscription = self._hub.subscribe(caller.agent_id)
        if subscription is None:
            raise ResourceExhausted(
                "TOO_MANY_SUBSCRIPTIONS",
                "the server has reached its subscription limit; retry later",
                metadata={"limit": "server"},
                retry_after_seconds=5,
            )
        try:
            if subscription.closed:
                # Reached a stopping server: only the final frame, at the caller's cursor.
                yield self._end(caller, position)
                self._raise_if_closing()
            if position is None:
                position = await self._queries.inbox_tail(caller.agent_id)
            replay = _Replay(flt, include_bodies, mail_only)
            async for entry in self._catch_up(caller, position, replay):
                position = _position_of(entry)
                yield self._with_cursor(caller, entry)
                if subscription.closed:
                    break  # the rest is replayed after the restart; stop within the grace
            else:
                yield self._heartbeat(caller, position)
            async for event in self._live(caller, subscription, position, replay):
                yield event
        finally:
            self._hub.unsubscribe(subscription)

    async def _live(
        self, caller: Identity, subscription: Subscription, position: int, replay: _Replay
    ) -> AsyncIterator[StreamEvent]:
        while True:
            if subscription.revoked:
                raise Unauthenticated(
                    "TOKEN_REVOKED", "the agent's token was revoked or rotated; stream ended"
                )
            if subscription.closed:
                # Whatever is still buffered is replayed from storage after the restart.
                yield self._end(caller, position)
                self._raise_if_closing()
            if subscription.take_overflow():
                self._hub.record_catch_up()
                async for entry in self._catch_up(caller, position, replay):
                    position = _position_of(entry)
                    yield self._with_cursor(caller, entry)
                    if subscription.closed:
                        break
                continue
            if subscription.buffer:
                buffered = subscription.buffer.popleft()
                if isinstance(buffered, Notice):
                    if buffered.position <= position:
                        continue  # already replayed from storage
                    position = buffered.position
                    if not replay.mail_only:
                        yield self._with_cursor(caller, buffered)
                    continue
                if buffered.message.id <= position:
                    continue  # already replayed from storage
                position = buffered.message.id
                if _matches(buffered, replay.flt):
                    item = _item(caller, buffered, replay.include_bodies)
                    yield self._with_cursor(caller, item)
                continue
            await subscription.wait(self._heartbeat_seconds)
            if not (subscription.buffer or subscription.overflowed or subscription.closed):
                yield self._heartbeat(caller, position)

    def _with_cursor(
        self, caller: Identity, entry: InboxItem | Notice
    ) -> StreamItem | StreamNotice:
        if isinstance(entry, Notice):
            return StreamNotice(entry, self._cursors.cursor(caller, entry.position))
        return StreamItem(entry, self._cursors.cursor(caller, entry.message.id))

    def _heartbeat(self, caller: Identity, position: int) -> Heartbeat:
        return Heartbeat(position, self._clock.now_micros(), self._cursors.cursor(caller, position))

    def _end(self, caller: Identity, position: int | None) -> StreamEnd:
        cursor = "" if position is None else self._cursors.cursor(caller, position)
        return StreamEnd(cursor, SHUTTING_DOWN, SHUTDOWN_RETRY_SECONDS)

    async def _catch_up(
        self, caller: Identity, after: int, replay: _Replay
    ) -> AsyncIterator[InboxItem | Notice]:
        """The backlog after ``after``: mail and notices merged in position order.

        Each round reads a page of each; when a page is full, only what lies at or below its
        last position is certain to be complete, so the round yields up to the lower of the
        full pages' last positions and the next round continues from there.
        """
        while True:
            page = await self._queries.inbox(
                caller.agent_id,
                replay.flt,
                after_id=after,
                before_id=None,
                newest_first=False,
                limit=CATCH_UP_PAGE,
                include_bodies=replay.include_bodies,
            )
            notices = (
                []
                if replay.mail_only
                else await self._queries.notices(caller.agent_id, after, CATCH_UP_PAGE)
            )
            horizon: int | None = None
            if len(page) == CATCH_UP_PAGE:
                horizon = page[-1].message.id
            if len(notices) == CATCH_UP_PAGE:
                last = notices[-1].position
                horizon = last if horizon is None else min(horizon, last)
            entries: list[InboxItem | Notice] = [
                InboxItem(
                    item.message.seen_by(caller.agent_id, caller.name, item.delivery.kind),
                    item.delivery,
                )
                for item in page
            ]
            entries.extend(notices)
            entries.sort(key=_position_of)
            for entry in entries:
                if horizon is not None and _position_of(entry) > horizon:
                    break
                yield entry
            if horizon is None:
                return
            after = horizon

    def _raise_if_closing(self) -> None:
        if self._hub.closed:
            raise Unavailable(
                SHUTTING_DOWN,
                "the server is shutting down; resume from your last cursor",
                retry_after_seconds=SHUTDOWN_RETRY_SECONDS,
            )


@dataclasses.dataclass(frozen=True, slots=True)
class _Replay:
    """What one subscription asked for: its mail filter, bodies, and whether notices too."""

    flt: InboxFilter
    include_bodies: bool
    mail_only: bool


def _position_of(entry: InboxItem | Notice) -> int:
    return entry.position if isinstance(entry, Notice) else entry.message.id


def _matches(notification: Notification, flt: InboxFilter) -> bool:
    message = notification.message
    if flt.urgent_only and message.importance < Importance.HIGH:
        return False
    if flt.topic and message.topic != flt.topic:
        return False
    return not (flt.thread_id and message.thread_id != flt.thread_id)


def _item(caller: Identity, notification: Notification, include_bodies: bool) -> InboxItem:
    message = notification.message.seen_by(caller.agent_id, caller.name, notification.kind)
    if not include_bodies:
        message = dataclasses.replace(message, body=None)
    # A live message is new: nobody can have read or acknowledged it yet.
    return InboxItem(message, Delivery(message.id, notification.kind, None, None))
