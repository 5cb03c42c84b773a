"""SubscribeInbox delivery: live items with the reader's view, filters, backlog replay after a
cursor followed by live delivery, heartbeats, authentication and argument errors."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc, types_pb2
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL

TO = types_pb2.RECIPIENT_KIND_TO
CC = types_pb2.RECIPIENT_KIND_CC
BCC = types_pb2.RECIPIENT_KIND_BCC
HIGH = types_pb2.IMPORTANCE_HIGH
URGENT = types_pb2.IMPORTANCE_URGENT
LOW = types_pb2.IMPORTANCE_LOW
NORMAL = types_pb2.IMPORTANCE_NORMAL


async def list_inbox(mail_stub: Any, agent: Any, **request: Any) -> list[types_pb2.InboxItem]:
    """The agent's whole inbox, oldest first, paging until an empty page."""
    items: list[types_pb2.InboxItem] = []
    token = ""
    for _ in range(10_000):
        page = await mail_stub.ListInbox(
            mail_service_pb2.ListInboxRequest(page_size=500, page_token=token, **request),
            metadata=agent.md,
        )
        if not page.items:
            return items
        items += page.items
        token = page.next_page_token
    raise AssertionError("inbox paging never ended")


async def test_live_delivery(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob, carol, dave = (team[n] for n in ("Alice", "Bob", "Carol", "Dave"))
    async with (
        subscribe(mail_stub, bob, view=MESSAGE_VIEW_FULL) as bob_stream,
        subscribe(mail_stub, carol, view=MESSAGE_VIEW_FULL) as carol_stream,
        subscribe(mail_stub, dave, view=MESSAGE_VIEW_FULL) as dave_stream,
    ):
        for stream in (bob_stream, carol_stream, dave_stream):
            assert await stream.until_live() == [], "an empty cursor replays nothing"
            assert stream.tail_cursor, "the first heartbeat carries the tail cursor"
            assert stream.heartbeats[0].HasField("server_time")

        sent = await send(
            mail_stub,
            alice,
            to=["bob"],
            cc=["CAROL"],
            bcc=["Dave"],
            subject="Deploy plan",
            body="# Plan\n\nShip it.",
            importance=HIGH,
            ack_required=True,
            topic="deploy",
        )
        received = {
            "Bob": await bob_stream.item(),
            "Carol": await carol_stream.item(),
            "Dave": await dave_stream.item(),
        }
        for name, kind in (("Bob", TO), ("Carol", CC), ("Dave", BCC)):
            item = received[name]
            message = item.message
            assert item.kind == kind, name
            assert item.cursor, name
            assert not item.HasField("read_time") and not item.HasField("ack_time"), name
            assert message.id == sent.id
            assert message.project == sent.project
            assert message.thread_id == str(sent.id)
            assert message.sender == "Alice"
            assert list(message.to) == ["Bob"]
            assert list(message.cc) == ["Carol"]
            # Bcc privacy: only a bcc recipient sees itself; to/cc recipients see no bcc.
            assert list(message.bcc) == (["Dave"] if name == "Dave" else []), name
            assert message.subject == "Deploy plan"
            assert message.body == "# Plan\n\nShip it."
            assert message.body_size_bytes == len(b"# Plan\n\nShip it.")
            assert message.importance == HIGH
            assert message.ack_required
            assert message.topic == "deploy"
            assert message.create_time == sent.create_time
            # The live item is exactly what ListInbox shows for that reader.
            listed = await list_inbox(mail_stub, team[name], view=MESSAGE_VIEW_FULL)
            assert listed == [item], name

        # The live cursor continues an OLDEST_FIRST listing strictly after the item.
        later = await send(mail_stub, alice, to=["Bob"], subject="later")
        page = await mail_stub.ListInbox(
            mail_service_pb2.ListInboxRequest(page_token=received["Bob"].cursor),
            metadata=bob.md,
        )
        assert [i.message.id for i in page.items] == [later.id]
        assert (await bob_stream.item()).message.id == later.id


async def test_filters_and_bodies(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    filters: dict[str, dict[str, Any]] = {
        "all": {"view": MESSAGE_VIEW_FULL},
        "urgent": {"urgent_only": True, "view": MESSAGE_VIEW_FULL},
        "topic": {"topic": "deploy", "view": MESSAGE_VIEW_FULL},
        "thread": {"thread_id": "T1", "view": MESSAGE_VIEW_FULL},
        "nobody": {"view": MESSAGE_VIEW_ENVELOPE},
    }
    async with (
        subscribe(mail_stub, bob, **filters["all"]) as s_all,
        subscribe(mail_stub, bob, **filters["urgent"]) as s_urgent,
        subscribe(mail_stub, bob, **filters["topic"]) as s_topic,
        subscribe(mail_stub, bob, **filters["thread"]) as s_thread,
        subscribe(mail_stub, bob, **filters["nobody"]) as s_nobody,
    ):
        streams = {
            "all": s_all,
            "urgent": s_urgent,
            "topic": s_topic,
            "thread": s_thread,
            "nobody": s_nobody,
        }
        for stream in streams.values():
            await stream.until_live()
        start_cursor = s_all.tail_cursor

        variants: list[dict[str, Any]] = [
            {},
            {"importance": LOW},
            {"importance": NORMAL, "topic": "deploy"},
            {"importance": HIGH},
            {"importance": URGENT, "topic": "other"},
            {"topic": "deploy", "thread_id": "T2"},
            {"thread_id": "T1"},
            {"importance": HIGH, "thread_id": "T1", "topic": "Deploy"},
            {"topic": "deploy", "thread_id": "T1"},
        ]
        sent = [
            await send(mail_stub, alice, to=["Bob"], subject=f"v{i}", body="x" * i, **fields)
            for i, fields in enumerate(variants)
        ]
        # A last message matching every filter tells each stream that the run is over.
        final = await send(
            mail_stub,
            alice,
            to=["Bob"],
            subject="final",
            body="the end",
            importance=URGENT,
            topic="deploy",
            thread_id="T1",
        )
        sent.append(final)
        expected = {
            "all": [m.id for m in sent],
            "urgent": [m.id for m in sent if m.importance in (HIGH, URGENT)],
            "topic": [m.id for m in sent if m.topic == "deploy"],
            "thread": [m.id for m in sent if m.thread_id == "T1"],
            "nobody": [m.id for m in sent],
        }
        assert len(expected["urgent"]) == 4 and len(expected["topic"]) == 4
        assert len(expected["thread"]) == 4
        for name, stream in streams.items():
            got: list[types_pb2.InboxItem] = []
            while not got or got[-1].message.id != final.id:
                got.append(await stream.item())
            assert [i.message.id for i in got] == expected[name], name
            for item in got:
                subject = item.message.subject
                size = 7 if subject == "final" else int(subject.removeprefix("v"))
                assert item.message.body_size_bytes == size, name
                if name == "nobody":
                    assert item.message.body == "", "the ENVELOPE view leaves bodies out"
                else:
                    assert len(item.message.body.encode()) == size

        # The same filters apply to the backlog replayed from storage.
        for name, request in filters.items():
            async with subscribe(mail_stub, bob, cursor=start_cursor, **request) as replay:
                backlog = await replay.until_live()
                assert [i.message.id for i in backlog] == expected[name], name
                if name == "nobody":
                    assert all(i.message.body == "" for i in backlog)
                assert replay.tail_cursor == backlog[-1].cursor


@pytest.mark.slow
async def test_backlog_then_live(
    server: Any, mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob, carol = team["Alice"], team["Bob"], team["Carol"]
    async with subscribe(mail_stub, bob) as first:
        await first.until_live()
        start = first.tail_cursor

    # Fewer concurrent sends than the hub buffer (256): the switch to live then relies on the
    # buffered notifications being deduplicated against the replay, not on an overflow.
    backlog_count, concurrent_count, live_count = 1500, 200, 100
    gate = asyncio.Semaphore(64)

    async def send_one(sender: Any, subject: str) -> types_pb2.Message:
        async with gate:
            return await send(mail_stub, sender, to=["Bob"], subject=subject)

    backlog = await asyncio.gather(*(send_one(alice, f"b{i}") for i in range(backlog_count)))
    async with subscribe(mail_stub, bob, cursor=start) as stream:
        # Carol sends while the backlog is being replayed: each of her messages must arrive
        # exactly once, whether it lands in the replay or in the live buffer.
        concurrent = asyncio.gather(*(send_one(carol, f"c{i}") for i in range(concurrent_count)))
        try:
            replayed = await stream.until_live()
        finally:
            concurrent_sent = await concurrent
        assert len(replayed) >= backlog_count
        assert [i.message.id for i in replayed[:backlog_count]] == sorted(m.id for m in backlog)
        assert stream.tail_cursor == replayed[-1].cursor, "heartbeat = position reached"
        caught_up = len(replayed)

        after_live = [await send(mail_stub, alice, to=["Bob"], subject=f"l{i}") for i in range(5)]
        after_live += await asyncio.gather(
            *(send_one(alice, f"l{i}") for i in range(5, live_count))
        )
        total = backlog_count + concurrent_count + live_count
        rest = await stream.items(total - caught_up)

    received = [i.message.id for i in replayed + rest]
    assert received == sorted(received) and len(set(received)) == total, "in order, no dups"
    assert set(received) == {m.id for m in (*backlog, *concurrent_sent, *after_live)}
    assert {m.id for m in after_live} <= {i.message.id for i in rest}, "live after heartbeat"
    assert server.hub.stats().overflows == 0, "the switch to live must not need a catch-up"

    # A cursor taken from a ListInbox item resumes right after that item.
    listed = await list_inbox(mail_stub, bob)
    assert [i.message.id for i in listed] == received
    async with subscribe(mail_stub, bob, cursor=listed[999].cursor) as resumed:
        assert [i.message.id for i in await resumed.until_live()] == received[1000:]
    # The tail cursor of a heartbeat at the end resumes with nothing to replay.
    async with subscribe(mail_stub, bob, cursor=listed[-1].cursor) as at_end:
        assert await at_end.until_live() == []
        assert at_end.tail_cursor == listed[-1].cursor


async def test_idle_heartbeats(
    tmp_path: Any,
    start_server: Any,
    connect: Any,
    subscribe: Any,
    send: Any,
    register_agents: Any,
) -> None:
    async with (
        start_server(tmp_path / "d", heartbeat_seconds=0.1) as server,
        connect(server.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        team = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob")
        )
        async with subscribe(mail, team["Bob"]) as stream:
            await stream.until_live()
            first_tail = stream.tail_cursor
            for _ in range(2):  # idle: heartbeats repeat with an unchanged tail
                event = await stream.event(within=5)
                assert event.HasField("heartbeat")
                assert event.heartbeat.tail_cursor == first_tail
            sent = await send(mail, team["Alice"], to=["Bob"])
            item = await stream.item()
            assert item.message.id == sent.id
            event = await stream.event(within=5)
            assert event.HasField("heartbeat"), "idle again after the item"
            assert event.heartbeat.tail_cursor == item.cursor
            times = [h.server_time.ToNanoseconds() for h in stream.heartbeats]
            assert times == sorted(times) and times[0] < times[-1]


async def test_auth(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any, expect_error: Any
) -> None:
    alice, bob, carol = team["Alice"], team["Bob"], team["Carol"]
    async with subscribe(mail_stub, ()) as anonymous:
        await expect_error(anonymous.call.read(), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING")
    async with subscribe(mail_stub, (("authorization", "Basic abc"),)) as malformed:
        await expect_error(malformed.call.read(), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_MISSING")
    bad = (("authorization", "Bearer am_not-a-real-token"),)
    async with subscribe(mail_stub, bad) as forged:
        await expect_error(forged.call.read(), grpc.StatusCode.UNAUTHENTICATED, "TOKEN_INVALID")

    # Each stream is its own inbox: mail addressed only to Carol never reaches Bob's stream.
    async with (
        subscribe(mail_stub, bob, view=MESSAGE_VIEW_FULL) as bob_stream,
        subscribe(mail_stub, carol, view=MESSAGE_VIEW_FULL) as carol_stream,
    ):
        await bob_stream.until_live()
        await carol_stream.until_live()
        start = bob_stream.tail_cursor
        private = [
            await send(mail_stub, alice, to=["Carol"], subject=f"private {i}") for i in range(3)
        ]
        hidden_bcc = await send(mail_stub, alice, to=["Dave"], bcc=["Carol"], subject="bcc")
        for_bob = await send(mail_stub, alice, to=["Bob"], bcc=["Carol"], subject="for bob")
        # Delivery is in commit order, so Bob's next item would be a leaked one if any.
        item = await bob_stream.item()
        assert item.message.id == for_bob.id
        assert list(item.message.bcc) == []
        carol_items = await carol_stream.items(5)
        assert [i.message.id for i in carol_items] == [
            *(m.id for m in private),
            hidden_bcc.id,
            for_bob.id,
        ]
        assert [list(i.message.bcc) for i in carol_items[3:]] == [["Carol"], ["Carol"]]
        assert carol_items[3].kind == BCC

        # Bob's cursor replays only Bob's mail; Carol's cursors are refused on Bob's stream.
        async with subscribe(mail_stub, bob, cursor=start) as replay:
            assert [i.message.id for i in await replay.until_live()] == [for_bob.id]
        for carols in (carol_stream.heartbeats[0].tail_cursor, carol_items[0].cursor):
            async with subscribe(mail_stub, bob, cursor=carols) as foreign:
                await expect_error(
                    foreign.call.read(),
                    grpc.StatusCode.INVALID_ARGUMENT,
                    "INVALID_PAGE_TOKEN",
                    field="cursor",
                )


async def test_bad_cursor(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any, expect_error: Any
) -> None:
    bob = team["Bob"]
    await send(mail_stub, team["Alice"], to=["Bob"])
    newest_first = await mail_stub.ListInbox(
        mail_service_pb2.ListInboxRequest(
            page_size=1, order=mail_service_pb2.INBOX_ORDER_NEWEST_FIRST
        ),
        metadata=bob.md,
    )
    outbox = await mail_stub.ListOutbox(
        mail_service_pb2.ListOutboxRequest(page_size=1), metadata=team["Alice"].md
    )
    for cursor in ("garbage!!", "bm90LWEtY3Vyc29y", newest_first.items[0].cursor + "x"):
        async with subscribe(mail_stub, bob, cursor=cursor) as stream:
            await expect_error(
                stream.call.read(),
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_PAGE_TOKEN",
                field="cursor",
            )
    # Tokens of other listings are not inbox cursors.
    for token in (newest_first.next_page_token, outbox.next_page_token):
        if not token:
            continue
        async with subscribe(mail_stub, bob, cursor=token) as stream:
            await expect_error(
                stream.call.read(),
                grpc.StatusCode.INVALID_ARGUMENT,
                "INVALID_PAGE_TOKEN",
                field="cursor",
            )
    async with subscribe(mail_stub, bob, topic="t" * 65) as stream:
        await expect_error(
            stream.call.read(), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="topic"
        )
    async with subscribe(mail_stub, bob, thread_id="t" * 129) as stream:
        await expect_error(
            stream.call.read(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_ARGUMENT",
            field="thread_id",
        )


async def test_multiple_subscriptions_same_agent(
    server: Any,
    channel: Any,
    mail_stub: Any,
    team: dict[str, Any],
    subscribe: Any,
    send: Any,
    connect: Any,
    wait_until: Any,
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with connect(server.address) as other_channel:
        other_stub = mail_service_pb2_grpc.MailServiceStub(other_channel)
        async with (
            subscribe(mail_stub, bob) as one,
            subscribe(other_stub, bob) as two,
            subscribe(mail_stub, bob, urgent_only=True) as urgent,
        ):
            for stream in (one, two, urgent):
                await stream.until_live()
            stats = server.hub.stats()
            assert (stats.subscriptions, stats.subscribed_agents) == (3, 1)
            sent = await asyncio.gather(
                *(
                    send(mail_stub, alice, to=["Bob"], subject=f"m{i}", importance=imp)
                    for i, imp in enumerate([NORMAL, URGENT] * 10)
                )
            )
            ids = sorted(m.id for m in sent)
            assert [i.message.id for i in await one.items(20)] == ids
            assert [i.message.id for i in await two.items(20)] == ids
            urgent_ids = sorted(m.id for m in sent if m.importance == URGENT)
            assert [i.message.id for i in await urgent.items(10)] == urgent_ids
            one.cancel()
            await wait_until(lambda: server.hub.stats().subscriptions == 2, what="one unsubscribe")
            # The remaining streams keep receiving.
            last = await send(mail_stub, alice, to=["Bob"], importance=HIGH)
            assert (await two.item()).message.id == last.id
            assert (await urgent.item()).message.id == last.id
    await wait_until(lambda: server.hub.stats().subscriptions == 0, what="all unsubscribed")
