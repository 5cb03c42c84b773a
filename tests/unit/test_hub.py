"""Subscription hub: bounded buffers, overflow instead of growth, clean close."""

from __future__ import annotations

import asyncio

import pytest
from agentmail_server.domain.drafts import Sent
from agentmail_server.domain.events import Commit, CommitBuilder
from agentmail_server.domain.models import Importance, Message, Recipient, RecipientKind
from agentmail_server.hub import Hub


def _sent(message_id: int, *agent_ids: int, deduplicated: bool = False) -> Sent:
    message = Message(
        id=message_id,
        project_id=1,
        sender_id=99,
        sender_name="S",
        thread_id=str(message_id),
        subject="s",
        body="b",
        body_size=1,
        importance=Importance.NORMAL,
        ack_required=False,
        topic="",
        to=tuple(f"a{i}" for i in agent_ids),
        cc=(),
        bcc=(),
        created_at=0,
    )
    recipients = tuple(Recipient(i, f"a{i}", RecipientKind.TO) for i in agent_ids)
    return Sent(message, recipients, deduplicated)


async def test_publish_reaches_every_subscription_of_the_recipient() -> None:
    hub = Hub(buffer_capacity=8, max_subscriptions=10)
    first, second, other = hub.subscribe(1), hub.subscribe(1), hub.subscribe(2)
    assert first and second and other
    changes = CommitBuilder()
    changes.sent(_sent(1, 1))
    changes.sent(_sent(2, 1, deduplicated=True))  # answered by an earlier message: not new
    commit = changes.build()
    assert commit is not None and commit.deduplicated_sends == 1
    hub.publish(commit)
    assert [n.message.id for n in first.buffer] == [1]
    assert [n.message.id for n in second.buffer] == [1]
    assert not other.buffer
    assert hub.stats().delivered_notifications == 2


async def test_overflow_drops_buffer_and_flags_catch_up() -> None:
    hub = Hub(buffer_capacity=3, max_subscriptions=10)
    subscription = hub.subscribe(1)
    assert subscription
    hub.publish(Commit(messages=tuple(_sent(i, 1) for i in range(1, 10))))
    stats = hub.stats()
    assert stats.buffered_events == 0
    assert stats.overflows == 1
    assert subscription.take_overflow()
    assert not subscription.take_overflow()
    hub.publish(Commit(messages=(_sent(10, 1),)))
    assert [n.message.id for n in subscription.buffer] == [10]


async def test_limit_and_close() -> None:
    hub = Hub(buffer_capacity=3, max_subscriptions=1)
    subscription = hub.subscribe(1)
    assert subscription is not None
    assert hub.subscribe(2) is None
    hub.close()
    assert subscription.closed
    assert hub.subscribe(3) is None
    assert not await hub.wait_drained(0.01)
    hub.unsubscribe(subscription)
    hub.unsubscribe(subscription)
    assert await hub.wait_drained(0.01)
    assert hub.stats().subscriptions == 0


async def test_wait_returns_when_mail_arrives_and_not_before() -> None:
    hub = Hub(buffer_capacity=8, max_subscriptions=10)
    subscription = hub.subscribe(1)
    assert subscription
    waiting = asyncio.create_task(subscription.wait(3600))
    await asyncio.sleep(0)  # let it start waiting
    assert not waiting.done()
    hub.publish(Commit(messages=(_sent(1, 2),)))  # for another agent: no wake-up
    await asyncio.sleep(0)
    assert not waiting.done()
    hub.publish(Commit(messages=(_sent(2, 1),)))
    await asyncio.wait_for(waiting, 5)
    assert [n.message.id for n in subscription.buffer] == [2]
    await asyncio.wait_for(subscription.wait(3600), 5)  # something buffered: returns at once


async def test_wait_times_out_and_close_wakes_a_waiter() -> None:
    hub = Hub(buffer_capacity=8, max_subscriptions=10)
    subscription = hub.subscribe(1)
    assert subscription
    await asyncio.wait_for(subscription.wait(0.001), 5)  # the heartbeat timer fires
    assert not subscription.buffer and not subscription.closed
    waiting = asyncio.create_task(subscription.wait(3600))
    await asyncio.sleep(0)
    hub.close()
    await asyncio.wait_for(waiting, 5)
    assert subscription.closed


async def test_a_cancelled_wait_leaves_nothing_behind() -> None:
    hub = Hub(buffer_capacity=8, max_subscriptions=10)
    subscription = hub.subscribe(1)
    assert subscription
    waiting = asyncio.create_task(subscription.wait(3600))
    await asyncio.sleep(0)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    hub.publish(Commit(messages=(_sent(1, 1),)))  # no waiter to wake: buffered, no error
    assert [n.message.id for n in subscription.buffer] == [1]


async def test_streams_arriving_after_close_are_held_until_they_end() -> None:
    # A stream reaching a stopping server is registered already closed (so it can send its
    # final frame), and the stop waits for it and for arrivals to cease.
    hub = Hub(buffer_capacity=3, max_subscriptions=10)
    hub.close()
    assert await hub.wait_drained(0.01)
    late = hub.subscribe(1)
    assert late is not None and late.closed
    assert not await hub.wait_drained(0.01)
    assert not await hub.wait_quiet(0.01, 0.05)
    hub.unsubscribe(late)
    assert await hub.wait_drained(0.01)
    # Quiet for longer than the deadline allows: not quiet in time.
    assert not await hub.wait_quiet(60, 0.05)
    assert await hub.wait_quiet(0.01, 5)
