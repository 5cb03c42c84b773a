"""SubscribeInbox: replay the backlog after a cursor from storage, then deliver live.

Gap-free and duplicate-free across the switch: the stream registers with the hub *before*
reading storage, so anything committed during the read is buffered; buffered messages at or
below the last delivered id are skipped. After a buffer overflow the same catch-up runs again
from the last delivered id.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

from agentmail_server.domain import cursors, limits
from agentmail_server.domain.clock import Clock
from agentmail_server.domain.filters import InboxFilter
from agentmail_server.domain.models import Delivery, Identity, Importance, InboxItem
from agentmail_server.errors import ResourceExhausted, Unavailable
from agentmail_server.hub import Hub, Notification, Subscription
from agentmail_server.storage.ports import MailReads

CATCH_UP_PAGE = 256


@dataclasses.dataclass(frozen=True)
class Heartbeat:
    """Progress: the subscriber has been brought up to ``position``."""

    position: int
    server_time: int


StreamEvent = InboxItem | Heartbeat


class InboxStreamer:
    """Builds the event stream of one subscription."""

    def __init__(
        self, hub: Hub, queries: MailReads, heartbeat_seconds: float, clock: Clock
    ) -> None:
        self._hub = hub
        self._clock = clock
        self._queries = queries
        self._heartbeat_seconds = heartbeat_seconds

    async def stream(
        self, caller: Identity, cursor: str, flt: InboxFilter, include_bodies: bool
    ) -> AsyncIterator[StreamEvent]:
        """Events for ``caller``: backlog after ``cursor`` (or nothing when empty), a
        heartbeat once caught up, then live items and heartbeats while idle."""
        position = cursors.decode(cursor, cursors.INBOX_ASC, field="cursor")
        limits.check_length("topic", flt.topic, limits.MAX_TOPIC_CHARS)
        limits.check_length("thread_id", flt.thread_id, limits.MAX_THREAD_ID_CHARS)
        self._raise_if_closing()
        subscription = self._hub.subscribe(caller.agent_id)
        if subscription is None:
            raise ResourceExhausted(
                "TOO_MANY_SUBSCRIPTIONS",
                "the server has reached its subscription limit; retry later",
                retry_after_seconds=5,
            )
        try:
            if position is None:
                position = await self._queries.inbox_tail(caller.agent_id)
            async for item in self._catch_up(caller, position, flt, include_bodies):
                position = item.message.id
                yield item
            yield Heartbeat(position, self._clock.now_micros())
            async for event in self._live(caller, subscription, position, flt, include_bodies):
                yield event
        finally:
            self._hub.unsubscribe(subscription)

    async def _live(
        self,
        caller: Identity,
        subscription: Subscription,
        position: int,
        flt: InboxFilter,
        include_bodies: bool,
    ) -> AsyncIterator[StreamEvent]:
        while True:
            if subscription.closed:
                self._raise_if_closing()
            if subscription.take_overflow():
                self._hub.record_catch_up()
                async for item in self._catch_up(caller, position, flt, include_bodies):
                    position = item.message.id
                    yield item
                continue
            if subscription.buffer:
                notification = subscription.buffer.popleft()
                if notification.message.id <= position:
                    continue  # already replayed from storage
                position = notification.message.id
                if _matches(notification, flt):
                    yield _item(caller, notification, include_bodies)
                continue
            await subscription.wait(self._heartbeat_seconds)
            if not (subscription.buffer or subscription.overflowed or subscription.closed):
                yield Heartbeat(position, self._clock.now_micros())

    async def _catch_up(
        self, caller: Identity, after: int, flt: InboxFilter, include_bodies: bool
    ) -> AsyncIterator[InboxItem]:
        while True:
            page = await self._queries.inbox(
                caller.agent_id,
                flt,
                after_id=after,
                before_id=None,
                newest_first=False,
                limit=CATCH_UP_PAGE,
                include_bodies=include_bodies,
            )
            for item in page:
                yield InboxItem(
                    item.message.seen_by(caller.agent_id, caller.name, item.delivery.kind),
                    item.delivery,
                )
            if len(page) < CATCH_UP_PAGE:
                return
            after = page[-1].message.id

    def _raise_if_closing(self) -> None:
        if self._hub.closed:
            raise Unavailable(
                "SHUTTING_DOWN",
                "the server is shutting down; resume from your last cursor",
                retry_after_seconds=1,
            )


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
