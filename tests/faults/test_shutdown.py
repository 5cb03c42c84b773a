"""SIGTERM and stop() under load: health turns NOT_SERVING first, in-flight calls finish,
every subscription gets a final frame with its resume cursor before its stream ends (also a
stream that reaches the server while it stops), the writer flushes, the process exits 0, and
both raw streams and the typed client resume from the final cursor with no gap or repeat.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import pathlib
import signal
import sqlite3
from typing import Any

import agentmail_client as am
import grpc
from agentmail.v1 import mail_service_pb2
from agentmail_server import cursor_key
from agentmail_server.domain import cursors
from grpc_health.v1 import health_pb2

from .conftest import NOT_SERVING, Api, auth

READ_SECONDS = 30.0
ROUNDS = 6
SENDERS = 6
ACKS_BEFORE_SIGTERM = 60
FAST = am.ReconnectPolicy(initial_backoff=0.02, max_backoff=0.2)


@dataclasses.dataclass
class Recorded:
    """Everything one stream received, each event numbered in one sequence shared by all
    streams of the test (the order in which the client saw them)."""

    events: list[tuple[int, mail_service_pb2.SubscribeInboxResponse]] = dataclasses.field(
        default_factory=list
    )
    error: grpc.aio.AioRpcError | None = None

    @property
    def item_ids(self) -> list[int]:
        return [e.item.message.id for _, e in self.events if e.HasField("item")]

    @property
    def end(self) -> tuple[int, mail_service_pb2.SubscribeInboxResponse.StreamEnd]:
        """The final frame (asserting there is one, and that it is last)."""
        assert self.events, f"the stream ended with no frame at all: {self.error}"
        (seq, last), kind = self.events[-1], self.events[-1][1].WhichOneof("event")
        assert kind == "end", f"the stream's last event is {kind}, not a final frame"
        return seq, last.end


async def record(call: Any, into: Recorded, sequence: itertools.count[int]) -> None:
    """Read ``call`` to its end into ``into`` (bounded by READ_SECONDS)."""
    try:
        async with asyncio.timeout(READ_SECONDS):
            while (event := await call.read()) is not grpc.aio.EOF:
                into.events.append((next(sequence), event))
    except grpc.aio.AioRpcError as err:
        into.error = err


def assert_ended_by_shutdown(stream: Recorded, rpc_failure: Any) -> str:
    """The stream's last frame is the final one, then UNAVAILABLE SHUTTING_DOWN; returns the
    final frame's resume cursor."""
    _, end = stream.end
    assert end.reason == "SHUTTING_DOWN"
    assert end.retry_after_ms > 0
    assert stream.error is not None, "the stream ended without a status"
    failure = rpc_failure(stream.error)
    assert (failure.code, failure.reason) == (grpc.StatusCode.UNAVAILABLE, "SHUTTING_DOWN")
    return end.resume_cursor


async def test_streams_that_reach_a_stopping_server_get_their_final_frame(
    tmp_path: pathlib.Path, start_server: Any, api_for: Any, rpc_failure: Any
) -> None:
    # Opened just after stop() began, these used to be cancelled by gRPC (a bare CANCELLED)
    # more often than not; each must now get its final frame, echoing its cursor.
    for round_ in range(ROUNDS):
        async with start_server(tmp_path / f"d{round_}") as server, api_for(server.address) as api:
            tokens = await api.team("Alice", "Bob")
            await api.mail.SendMessage(
                mail_service_pb2.SendMessageRequest(to=["Bob"], subject="s"),
                metadata=auth(tokens["Alice"]),
            )
            live = api.mail.SubscribeInbox(
                mail_service_pb2.SubscribeInboxRequest(), metadata=auth(tokens["Bob"])
            )
            first = await live.read()
            assert first.HasField("heartbeat")
            cursor = first.heartbeat.tail_cursor  # opaque: the tail is the message just sent
            assert cursor
            stopping = asyncio.create_task(server.stop())
            late = [
                api.mail.SubscribeInbox(
                    mail_service_pb2.SubscribeInboxRequest(cursor=cursor),
                    metadata=auth(tokens["Bob"]),
                )
                for _ in range(3)
            ]
            streams = [Recorded() for _ in range(4)]
            sequence = itertools.count()
            calls = [live, *late]
            await asyncio.gather(
                *(record(c, s, sequence) for c, s in zip(calls, streams, strict=True))
            )
            await stopping
            for stream in streams:
                assert assert_ended_by_shutdown(stream, rpc_failure) == cursor


@dataclasses.dataclass
class Sender:
    """One sending task: what the server acknowledged, and the send it may have to repeat."""

    index: int
    acknowledged: dict[str, int] = dataclasses.field(default_factory=dict)
    unanswered: str | None = None
    started_before_sigterm_failed: list[grpc.StatusCode] = dataclasses.field(default_factory=list)


async def keep_sending(
    api: Api, token: str, sender: Sender, enough: asyncio.Event, terminated: asyncio.Event
) -> None:
    """Send to Bob and Carol until a call fails (bounded); idempotency keys name each send."""
    for seq in range(100_000):
        key = f"s{sender.index}-{seq}"
        before_sigterm = not terminated.is_set()
        try:
            reply = await api.mail.SendMessage(
                mail_service_pb2.SendMessageRequest(
                    to=["Bob", "Carol"], subject=key, body="b", idempotency_key=key
                ),
                metadata=auth(token),
                timeout=READ_SECONDS,
            )
        except grpc.aio.AioRpcError as err:
            sender.unanswered = key
            if before_sigterm:
                sender.started_before_sigterm_failed.append(err.code())
            return
        sender.acknowledged[key] = reply.message.id
        if sum(1 for _ in sender.acknowledged) >= ACKS_BEFORE_SIGTERM // SENDERS:
            enough.set()
    raise AssertionError("the server never stopped")


async def test_sigterm_under_load(
    tmp_path: pathlib.Path, spawn_server: Any, api_for: Any, rpc_failure: Any
) -> None:
    data_dir = tmp_path / "data"
    senders = [Sender(i) for i in range(SENDERS)]
    streams = {name: Recorded() for name in ("Bob", "Bob-urgent", "Carol")}
    health = Recorded()
    sequence = itertools.count()
    async with spawn_server(data_dir) as running, api_for(running.address) as api:
        tokens = await api.team("Alice", "Bob", "Carol")
        watch = api.health.Watch(health_pb2.HealthCheckRequest(service=""))
        calls = {
            "Bob": api.mail.SubscribeInbox(
                mail_service_pb2.SubscribeInboxRequest(), metadata=auth(tokens["Bob"])
            ),
            "Bob-urgent": api.mail.SubscribeInbox(
                mail_service_pb2.SubscribeInboxRequest(urgent_only=True),
                metadata=auth(tokens["Bob"]),
            ),
            "Carol": api.mail.SubscribeInbox(
                mail_service_pb2.SubscribeInboxRequest(), metadata=auth(tokens["Carol"])
            ),
        }
        for call in calls.values():  # live once the first heartbeat arrives
            assert (await call.read()).HasField("heartbeat")
        readers = [
            asyncio.create_task(record(call, streams[name], sequence))
            for name, call in calls.items()
        ]
        watcher = asyncio.create_task(record(watch, health, sequence))
        enough, terminated = asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(keep_sending(api, tokens["Alice"], s, enough, terminated))
            for s in senders
        ]
        async with asyncio.timeout(READ_SECONDS):
            await enough.wait()
        loop = asyncio.get_running_loop()
        terminated.set()
        signalled = loop.time()
        running.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(READ_SECONDS):
            code = await running.process.wait()
        exit_seconds = loop.time() - signalled
        await asyncio.gather(*tasks, *readers)
        watcher.cancel()
        await asyncio.wait({watcher})
    acknowledged = {k: v for s in senders for k, v in s.acknowledged.items()}
    print(
        f"\nSIGTERM under load: exit code {code} after {exit_seconds:.3f}s; "
        f"{len(acknowledged)} sends acknowledged; stream ends at seq "
        f"{[streams[n].end[0] for n in streams]}"
    )
    assert code == 0, b"".join(running.log).decode(errors="replace")
    # Every call in flight when the signal came finished (calls made later may be refused).
    for sender in senders:
        assert sender.started_before_sigterm_failed == [], sender
    # Health turned NOT_SERVING before any stream got its final frame.
    statuses = [(seq, e.status) for seq, e in health.events]
    not_serving = next(seq for seq, status in statuses if status == NOT_SERVING)
    for name, stream in streams.items():
        assert_ended_by_shutdown(stream, rpc_failure)
        assert not_serving < stream.end[0], (name, statuses, stream.end[0])
    # Health watchers are ended too, rather than holding the server for its grace period.
    assert health.error is not None
    assert rpc_failure(health.error).reason == "SHUTTING_DOWN"

    await check_after_restart(spawn_server, api_for, data_dir, tokens, senders, streams)


async def check_after_restart(
    spawn_server: Any,
    api_for: Any,
    data_dir: pathlib.Path,
    tokens: dict[str, str],
    senders: list[Sender],
    streams: dict[str, Recorded],
) -> None:
    """After a restart: everything acknowledged is there once, unanswered sends repeat safely,
    and each stream resumed from its final cursor continues with no gap and no repeat."""
    acknowledged = {k: v for s in senders for k, v in s.acknowledged.items()}
    sequence = itertools.count()
    async with spawn_server(data_dir) as running, api_for(running.address) as api:
        # The writer flushed: everything acknowledged is there, exactly once.
        for name in ("Bob", "Carol"):
            inbox = await api.inbox_ids(tokens[name])
            assert len(inbox) == len(set(inbox))
            assert set(acknowledged.values()) <= set(inbox)
        # A send that got no answer is repeated safely with its idempotency key.
        for sender in senders:
            assert sender.unanswered is not None
            await api.mail.SendMessage(
                mail_service_pb2.SendMessageRequest(
                    to=["Bob", "Carol"],
                    subject=sender.unanswered,
                    body="b",
                    idempotency_key=sender.unanswered,
                ),
                metadata=auth(tokens["Alice"]),
            )
        everything = await api.inbox_ids(tokens["Bob"])
        assert len(everything) == len(acknowledged) + SENDERS
        # Each stream resumes from its final cursor: before + after is the whole inbox.
        for name, request in (
            ("Bob", {}),
            ("Bob-urgent", {"urgent_only": True}),
            ("Carol", {}),
        ):
            token = tokens[name.split("-")[0]]
            resumed = Recorded()
            call = api.mail.SubscribeInbox(
                mail_service_pb2.SubscribeInboxRequest(
                    cursor=streams[name].end[1].resume_cursor, **request
                ),
                metadata=auth(token),
            )
            try:
                async with asyncio.timeout(READ_SECONDS):
                    while not (event := await call.read()).HasField("heartbeat"):
                        resumed.events.append((next(sequence), event))
            finally:
                call.cancel()
            seen = streams[name].item_ids + resumed.item_ids
            expected = [] if request else await api.inbox_ids(token)
            assert seen == expected, name


async def test_typed_client_resumes_from_the_final_frame(
    tmp_path: pathlib.Path, server_on: Any, free_port: Any
) -> None:
    # Mail the filter skips moves the stream's position without any item or heartbeat (those
    # come only after 15 s idle): only the final frame can tell the client where it got to.
    port, data_dir = free_port(), tmp_path / "data"
    quick = am.ChannelConfig(
        extra_options=(
            ("grpc.initial_reconnect_backoff_ms", 50),
            ("grpc.max_reconnect_backoff_ms", 100),
        )
    )
    saved: list[str] = []
    changed = asyncio.Event()

    def save(cursor: str) -> None:
        saved.append(cursor)
        changed.set()

    async def until_saved(cursor: str) -> None:
        async with asyncio.timeout(READ_SECONDS):
            while cursor not in saved:
                changed.clear()
                await changed.wait()

    items: list[am.InboxItem] = []

    async def consume(subscription: am.Subscription) -> None:
        async for item in subscription:
            items.append(item)
            save("item")

    async with am.AgentmailClient(f"127.0.0.1:{port}", channel=quick) as client:
        async with server_on(data_dir, port):
            slug = (await client.ensure_project("/faults")).project.slug
            alice, bob = client.with_token(None), client.with_token(None)
            await alice.register_agent(slug, "Alice")
            await bob.register_agent(slug, "Bob")
            subscription = bob.subscribe(topic="wanted", on_cursor=save, reconnect=FAST)
            consumer = asyncio.create_task(consume(subscription))
            async with asyncio.timeout(READ_SECONDS):
                await subscription.caught_up.wait()
            skipped = [
                (await alice.send_message(to="Bob", subject=f"other {i}")).message.id
                for i in range(3)
            ]
        # Stopped: the final frame moved the cursor past the skipped mail. Cursors are sealed
        # with the data folder's key, so the expected one is sealed the way the server does.
        database = data_dir / "agentmail.sqlite3"
        key = cursor_key.load_or_create(data_dir, database)
        with contextlib.closing(sqlite3.connect(database)) as conn:
            (bob_id,) = conn.execute("SELECT id FROM agents WHERE name = 'Bob'").fetchone()
        past_skipped = cursors.CursorCodec(key).encode(cursors.INBOX_ASC, (bob_id,), skipped[-1])
        await until_saved(past_skipped)
        assert subscription.cursor == past_skipped
        async with server_on(data_dir, port):
            sent = await alice.send_message(to="Bob", subject="wanted", topic="wanted")
            await until_saved("item")
            assert [item.message.id for item in items] == [sent.message.id]
            assert subscription.reconnects >= 1
            await subscription.aclose()
            await consumer
