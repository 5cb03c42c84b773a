"""``AgentmailClient.subscribe`` against real servers: live delivery, resumption by cursor across
restarts and clients, at-least-once cursors, closed versus broken, and reconnection limits.

Every wait is bounded by ``asyncio.timeout``; no test sleeps to let something happen. A
subscription without a starting cursor is "live" once ``caught_up`` is set, and a message sent
last (a sentinel) proves that nothing unexpected arrived before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import agentmail_client as am
import grpc
import grpc.aio
import pytest
from agentmail_client._subscribe import is_reconnectable

WAIT = 20.0
EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "clients" / "examples" / "subscriber.py"
FAST = am.ReconnectPolicy(initial_backoff=0.02, max_backoff=0.2)
# Reconnect the channel quickly after refused connections (gRPC's own default starts at 1 s).
QUICK_CHANNEL = am.ChannelConfig(
    extra_options=(
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 100),
    )
)
StartServer = Callable[..., contextlib.AbstractAsyncContextManager[Any]]


class StreamOutcomes(grpc.aio.UnaryStreamClientInterceptor):
    """Records how each SubscribeInbox call the client makes ends (gRPC's own hook, no mock)."""

    def __init__(self) -> None:
        self.codes: list[grpc.StatusCode] = []
        self.ended = asyncio.Condition()
        self._watchers: set[asyncio.Task[None]] = set()

    async def intercept_unary_stream(
        self,
        continuation: Callable[[Any, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        call = await continuation(client_call_details, request)
        watcher = asyncio.create_task(self._watch(call))
        self._watchers.add(watcher)
        watcher.add_done_callback(self._watchers.discard)
        return call

    async def _watch(self, call: Any) -> None:
        code = await call.code()
        async with self.ended:
            self.codes.append(code)
            self.ended.notify_all()

    async def wait_for(self, code: grpc.StatusCode) -> None:
        async with asyncio.timeout(WAIT), self.ended:
            await self.ended.wait_for(lambda: code in self.codes)


@dataclasses.dataclass(frozen=True)
class Pair:
    """Alice sends, Bob subscribes; both are views of one client."""

    alice: am.AgentmailClient
    bob: am.AgentmailClient


async def register_pair(client: am.AgentmailClient, human_key: str = "/srv/repos/sub") -> Pair:
    slug = (await client.ensure_project(human_key)).project.slug
    alice, bob = client.with_token(None), client.with_token(None)
    await alice.register_agent(slug, "Alice")
    await bob.register_agent(slug, "Bob")
    return Pair(alice, bob)


@pytest.fixture
async def client(server: Any) -> AsyncIterator[am.AgentmailClient]:
    async with am.AgentmailClient(server.address, channel=QUICK_CHANNEL) as opened:
        yield opened


@pytest.fixture
async def pair(client: am.AgentmailClient) -> Pair:
    return await register_pair(client)


async def send(sender: am.AgentmailClient, subject: str, **fields: Any) -> int:
    return (await sender.send_message(to="Bob", subject=subject, **fields)).message.id


async def take(subscription: am.Subscription, count: int) -> list[am.InboxItem]:
    """The next ``count`` items, within ``WAIT`` seconds."""
    async with asyncio.timeout(WAIT):
        return [await anext(subscription) for _ in range(count)]


async def live(subscription: am.Subscription) -> None:
    async with asyncio.timeout(WAIT):
        await subscription.caught_up.wait()


async def test_live_mail_arrives_through_the_subscription(pair: Pair) -> None:
    async with pair.bob.subscribe() as subscription:
        await live(subscription)
        sent = await send(pair.alice, "hello", body="hi Bob", topic="ci")
        (item,) = await take(subscription, 1)
    assert item.message.id == sent
    assert item.message.sender == "Alice"
    assert item.message.body == "hi Bob"
    assert item.kind is am.RecipientKind.TO
    assert item.cursor
    assert subscription.last_heartbeat is not None
    assert subscription.last_heartbeat.tzinfo is not None
    assert subscription.reconnects == 0
    assert subscription.closed


async def test_filters_skip_mail_and_the_cursor_moves_past_it(pair: Pair) -> None:
    saved: list[str] = []
    async with pair.bob.subscribe(
        urgent_only=True, include_bodies=False, on_cursor=saved.append
    ) as subscription:
        await live(subscription)
        await send(pair.alice, "routine", body="x")
        urgent = await send(pair.alice, "fire", body="y" * 10, importance=am.Importance.URGENT)
        (item,) = await take(subscription, 1)
    assert item.message.id == urgent
    assert item.message.body == ""
    assert item.message.body_size_bytes == 10
    assert subscription.cursor == item.cursor == saved[-1]


async def test_on_cursor_persists_each_item_before_the_next_is_fetched(pair: Pair) -> None:
    saved: list[str] = []

    async def save(cursor: str) -> None:
        saved.append(cursor)

    items: list[am.InboxItem] = []
    async with pair.bob.subscribe(on_cursor=save) as subscription:
        await live(subscription)
        # Without a starting cursor, the first heartbeat's tail is the cursor once caught up.
        start = subscription.cursor
        assert start is not None
        for n in range(3):
            await send(pair.alice, f"m{n}")
        async with asyncio.timeout(WAIT):
            async for item in subscription:
                if items:
                    # Asking for this item marked the previous one processed, and only it.
                    assert saved[-1] == items[-1].cursor == subscription.cursor
                else:
                    assert saved == [start]
                items.append(item)
                if len(items) == 3:
                    assert subscription.cursor == items[1].cursor
                    break
    # Leaving the block normally marks the last item processed as well.
    assert subscription.cursor == items[-1].cursor
    # on_cursor runs in the iterating task: the tail first, then each item's cursor.
    assert saved == [start, *(item.cursor for item in items)]


async def test_an_item_in_hand_when_the_block_fails_is_delivered_again(pair: Pair) -> None:
    sent = await send(pair.alice, "before")  # establishes a cursor to resume from
    (before,) = await pair.bob.list_inbox()
    assert before.message.id == sent
    saved: list[str] = []
    failing = await send(pair.alice, "fails")
    with pytest.raises(RuntimeError, match="crashed"):
        async with pair.bob.subscribe(cursor=before.cursor, on_cursor=saved.append) as sub:
            (item,) = await take(sub, 1)
            assert item.message.id == failing
            raise RuntimeError("crashed while handling the item")
    assert saved == []
    assert sub.cursor == before.cursor
    async with pair.bob.subscribe(cursor=before.cursor) as again:
        (redelivered,) = await take(again, 1)
    assert redelivered.message.id == failing


async def test_a_saved_cursor_resumes_in_a_new_client_without_gap_or_duplicate(
    server: Any, pair: Pair
) -> None:
    async with pair.bob.subscribe() as first:
        await live(first)
        ids = [await send(pair.alice, f"m{n}") for n in range(3)]
        async with asyncio.timeout(WAIT):
            async for item in first:
                if item.message.id == ids[1]:
                    break
    saved = first.cursor
    assert saved is not None
    later = [await send(pair.alice, "m3"), await send(pair.alice, "m4")]
    token = pair.bob.token
    async with (
        am.AgentmailClient(server.address, token=token) as other,
        other.subscribe(cursor=saved) as resumed,
    ):
        backlog = await take(resumed, 3)
        await live(resumed)
        sentinel = await send(pair.alice, "live")
        (tail,) = await take(resumed, 1)
    assert [item.message.id for item in backlog] == [ids[2], *later]
    assert tail.message.id == sentinel


@pytest.mark.slow
async def test_resume_after_a_server_restart_delivers_each_message_once_in_order(
    tmp_path: pathlib.Path,
    server_on: Any,
    free_port: Any,
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    async with contextlib.AsyncExitStack() as outlives_the_servers:
        async with server_on(data_dir, port) as first:
            client = await outlives_the_servers.enter_async_context(
                am.AgentmailClient(first.address, channel=QUICK_CHANNEL)
            )
            pair = await register_pair(client)
            subscription = await outlives_the_servers.enter_async_context(
                pair.bob.subscribe(reconnect=FAST)
            )
            await live(subscription)
            before = [await send(pair.alice, f"before{n}") for n in range(3)]
            # Process one; the others may sit received but unprocessed in the client's buffer.
            (one,) = await take(subscription, 1)
        # The first server is gone: the stream ended with UNAVAILABLE SHUTTING_DOWN, whose
        # RetryInfo keeps the subscription away for a second: the next sends find it away.
        async with server_on(data_dir, port):
            while_down = [await send(pair.alice, f"restart{n}") for n in range(3)]
            rest = await take(subscription, 5)
            await live(subscription)
            sentinel = await send(pair.alice, "sentinel")
            (last,) = await take(subscription, 1)
    assert one.message.id == before[0]
    assert [item.message.id for item in rest] == before[1:] + while_down
    assert last.message.id == sentinel
    assert subscription.reconnects >= 1


async def test_mail_replayed_after_a_reconnect_keeps_bcc_private(
    tmp_path: pathlib.Path, server_on: Any, free_port: Any
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    readers = ("Bob", "Carol", "Dave")
    async with contextlib.AsyncExitStack() as outlives_the_servers:
        async with server_on(data_dir, port) as first:
            client = await outlives_the_servers.enter_async_context(
                am.AgentmailClient(first.address, channel=QUICK_CHANNEL)
            )
            slug = (await client.ensure_project("/srv/repos/bcc")).project.slug
            agents = {name: client.with_token(None) for name in ("Alice", *readers)}
            for name, agent in agents.items():
                await agent.register_agent(slug, name)
            subscriptions = {
                reader: await outlives_the_servers.enter_async_context(
                    agents[reader].subscribe(reconnect=FAST)
                )
                for reader in readers
            }
            for subscription in subscriptions.values():
                await live(subscription)
        # Sent on the second server while the subscriptions wait out the shutdown's RetryInfo:
        # they reach each reader through the reconnected stream's replay from its cursor.
        async with server_on(data_dir, port):
            sent = [
                (
                    await agents["Alice"].send_message(
                        to="Bob", bcc=["Carol", "Dave"], subject=f"while away {n}"
                    )
                ).message
                for n in range(2)
            ]
            replayed = {reader: await take(subscriptions[reader], 2) for reader in readers}
    assert all(sorted(message.bcc) == ["Carol", "Dave"] for message in sent)
    for reader, items in replayed.items():
        assert subscriptions[reader].reconnects >= 1
        assert [item.message.id for item in items] == [message.id for message in sent]
        for item in items:
            assert item.message.to == ("Bob",)
            assert item.message.bcc == (() if reader == "Bob" else (reader,)), (reader, item)


async def test_a_bad_token_raises_unauthenticated_without_reconnecting(server: Any) -> None:
    outcomes = StreamOutcomes()
    async with am.AgentmailClient(
        server.address, token="am_not-a-real-token", interceptors=[outcomes]
    ) as client:
        subscription = client.subscribe(reconnect=FAST)
        with pytest.raises(am.Unauthenticated) as caught:
            async with subscription, asyncio.timeout(WAIT):
                async for _ in subscription:
                    pytest.fail("no item can arrive")
    assert caught.value.reason == "TOKEN_INVALID"
    assert subscription.reconnects == 0
    assert outcomes.codes == [grpc.StatusCode.UNAUTHENTICATED]


async def test_closing_ends_iteration_without_an_error(pair: Pair) -> None:
    subscription = pair.bob.subscribe()
    received: list[am.InboxItem] = []

    async def consume() -> None:
        async for item in subscription:
            received.append(item)

    async with subscription:
        consumer = asyncio.create_task(consume())
        await live(subscription)
        await subscription.aclose()  # from another task than the consumer
        async with asyncio.timeout(WAIT):
            await consumer  # would raise had iteration ended with an error
    assert received == []
    assert subscription.closed
    with pytest.raises(StopAsyncIteration):
        await anext(subscription)


async def test_closing_the_client_closes_its_subscriptions(server: Any) -> None:
    client = am.AgentmailClient(server.address)
    pair = await register_pair(client)
    async with pair.bob.subscribe() as subscription:
        await live(subscription)
        await client.close()
        async with asyncio.timeout(WAIT):
            assert [item async for item in subscription] == []
    assert subscription.closed


@pytest.mark.slow
async def test_giving_up_after_max_attempts_raises_unavailable(
    tmp_path: pathlib.Path, start_server: StartServer
) -> None:
    policy = am.ReconnectPolicy(initial_backoff=0.01, max_backoff=0.05, max_attempts=2)
    async with contextlib.AsyncExitStack() as outlives_the_server:
        async with start_server(tmp_path / "data") as server:
            client = await outlives_the_server.enter_async_context(
                am.AgentmailClient(server.address, channel=QUICK_CHANNEL)
            )
            pair = await register_pair(client)
            subscription = await outlives_the_server.enter_async_context(
                pair.bob.subscribe(reconnect=policy)
            )
            await live(subscription)
        with pytest.raises(am.Unavailable):
            await take(subscription, 1)
        # Broken, not closed: iterating again raises again.
        with pytest.raises(am.Unavailable):
            await anext(subscription)
        assert not subscription.closed
    assert subscription.reconnects == 2


async def test_a_silent_server_is_treated_as_dead_after_the_idle_timeout() -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # accept the connection, never answer: a hung host

    held: list[asyncio.StreamWriter] = []
    listener = await asyncio.start_server(hold, "127.0.0.1", 0)
    address = f"127.0.0.1:{listener.sockets[0].getsockname()[1]}"
    policy = am.ReconnectPolicy(initial_backoff=0.0, max_backoff=0.0, max_attempts=2)
    try:
        async with (
            am.AgentmailClient(address, token="am_x") as client,
            client.subscribe(reconnect=policy, idle_timeout=0.1) as subscription,
        ):
            with pytest.raises(am.DeadlineExceeded, match="idle_timeout"):
                await take(subscription, 1)
    finally:
        listener.close()
        for writer in held:
            writer.close()
        await listener.wait_closed()
    assert subscription.reconnects == 2


@pytest.mark.slow
async def test_too_many_subscriptions_is_retried_once_a_slot_frees(
    tmp_path: pathlib.Path, start_server: StartServer
) -> None:
    # Slow by design: the server asks for 5 s before a retry, and the client honours it.
    outcomes = StreamOutcomes()
    async with (
        start_server(tmp_path / "data", max_subscriptions=1) as server,
        am.AgentmailClient(server.address, interceptors=[outcomes]) as client,
        contextlib.AsyncExitStack() as stack,
    ):
        pair = await register_pair(client)
        async with pair.bob.subscribe() as holder:
            await live(holder)
            waiting = await stack.enter_async_context(pair.bob.subscribe(reconnect=FAST))
            await outcomes.wait_for(grpc.StatusCode.RESOURCE_EXHAUSTED)
        await live(waiting)
    assert waiting.reconnects >= 1


def test_reconnect_backoff_has_full_jitter_a_server_floor_and_no_overflow() -> None:
    policy = am.ReconnectPolicy(initial_backoff=0.1, max_backoff=1.0)
    for attempt, bound in [(0, 0.1), (1, 0.2), (3, 0.8), (4, 1.0), (10_000, 1.0)]:
        delays = [policy.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= d <= bound for d in delays)
        assert len(set(delays)) > 100
    # RetryInfo is a floor, honoured even above max_backoff.
    assert policy.backoff(0, retry_after=5.0) == 5.0
    assert am.ReconnectPolicy().max_attempts is None


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": -1}, {"initial_backoff": -1.0}, {"max_backoff": -1.0}, {"multiplier": 0.5}],
)
def test_reconnect_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        am.ReconnectPolicy(**kwargs)  # type: ignore[arg-type]


def test_idle_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError, match="idle_timeout"):
        am.AgentmailClient("127.0.0.1:1", token="am_x").subscribe(idle_timeout=0)


async def test_subscriber_example_resumes_from_its_cursor_file(
    server: Any, pair: Pair, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await send(pair.alice, "already handled")
    (handled,) = await pair.bob.list_inbox()
    cursor_file = tmp_path / "bob.cursor"
    cursor_file.write_text(handled.cursor)
    ids = [await send(pair.alice, f"new {n}") for n in range(2)]
    spec = importlib.util.spec_from_file_location("subscriber", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    token = pair.bob.token
    assert token is not None
    async with asyncio.timeout(WAIT):
        seen = await example.follow(server.address, token, cursor_file, max_items=2)
    assert seen == 2
    out = capsys.readouterr().out.splitlines()
    assert out == [f"#{ids[0]} from Alice [normal]: new 0", f"#{ids[1]} from Alice [normal]: new 1"]
    (last,) = (await pair.bob.list_inbox(page_token=handled.cursor, page_size=2)).items[1:]
    assert cursor_file.read_text() == last.cursor


@pytest.mark.parametrize(
    ("code", "reason", "reconnects"),
    [
        # What a stream gets when it reaches a server that is stopping (no ErrorInfo).
        (grpc.StatusCode.CANCELLED, None, True),
        (grpc.StatusCode.INTERNAL, None, True),
        (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN", True),
        (grpc.StatusCode.CANCELLED, "SOME_REASON", False),
        (grpc.StatusCode.UNKNOWN, None, False),
    ],
)
def test_transport_failures_of_a_stream_are_reconnected(
    code: grpc.StatusCode, reason: str | None, reconnects: bool
) -> None:
    # A stream opened while the server stops may be cancelled rather than refused
    # (tests/integration/test_restart.py accepts either): it must reconnect, not fail.
    error = am.error_class_for(code)("stream ended", code=code, reason=reason)
    assert is_reconnectable(error) is reconnects


async def test_subscribe_with_events_yields_acknowledgements_between_items(pair: Pair) -> None:
    saved: list[str] = []
    asked = (await pair.bob.send_message(to="Alice", subject="ack me", ack_required=True)).message
    async with (
        pair.bob.subscribe_with_events(on_cursor=saved.append) as with_events,
        pair.bob.subscribe() as mail_only,
    ):
        await live(with_events)
        await live(mail_only)
        await pair.alice.acknowledge_message(asked.id)
        sentinel = await send(pair.alice, "after the ack")
        async with asyncio.timeout(WAIT):
            event = await anext(with_events)
            item = await anext(with_events)
            (only,) = await take(mail_only, 1)
    assert isinstance(event, am.AgentEvent)
    assert isinstance(event.detail, am.AcknowledgementEvent)
    assert event.detail.message_id == asked.id
    assert event.detail.acknowledged_by == "Alice"
    assert event.detail.subject == "ack me"
    assert event.detail.ack_time is not None and event.create_time == event.detail.ack_time
    assert isinstance(item, am.InboxItem) and item.message.id == sentinel
    assert only.message.id == sentinel, "subscribe() leaves events out"
    assert saved[-2:] == [event.cursor, item.cursor], "an event moves the cursor like an item"
    assert with_events.cursor == item.cursor
