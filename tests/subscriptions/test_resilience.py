"""SubscribeInbox across disconnects, restarts and shutdown, and the subscription limit.

A consumer that resumes from the cursor of the last item it processed sees every message
exactly once and in id order, whatever happens to the stream in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc, types_pb2
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL


class Consumer:
    """Processes items exactly once: checks that ids only grow and no (sender, seq) repeats."""

    def __init__(self, cursor: str) -> None:
        self.cursor = cursor  # resume point: the last processed position
        self.received: list[tuple[int, int, int]] = []  # (id, sender, seq) in processing order
        self.seen: set[tuple[int, int]] = set()
        self.last_id = 0

    def process(self, item: types_pb2.InboxItem) -> None:
        sender, seq = map(int, item.message.subject.split(":"))
        assert item.message.id > self.last_id, "ids strictly increase across resumes"
        assert (sender, seq) not in self.seen, f"duplicate {sender}:{seq}"
        assert item.message.body == "", "the ENVELOPE view leaves bodies out"
        self.last_id = item.message.id
        self.seen.add((sender, seq))
        self.received.append((item.message.id, sender, seq))
        self.cursor = item.cursor


@pytest.mark.slow
async def test_gap_free_reconnect(
    agent_stub: Any,
    mail_stub: Any,
    server: Any,
    register_agents: Any,
    subscribe: Any,
    send: Any,
    wait_until: Any,
) -> None:
    senders, per_sender = 8, 300
    total = senders * per_sender
    names = ["Rcpt", *(f"S{i}" for i in range(senders))]
    agents = await register_agents(agent_stub, names)
    rcpt = agents["Rcpt"]
    rng = random.Random(20240611)

    # The position before anything is sent: resuming from it must yield all mail.
    async with subscribe(mail_stub, rcpt, view=MESSAGE_VIEW_ENVELOPE) as first:
        await first.until_live()
        start = first.tail_cursor

    async def send_all(index: int) -> None:
        agent = agents[f"S{index}"]
        for seq in range(per_sender):  # one sender's messages are committed in seq order
            await send(mail_stub, agent, to=["Rcpt"], subject=f"{index}:{seq}", body=f"{seq}")

    consumer = Consumer(start)
    connections = 0
    sending = asyncio.gather(*(send_all(i) for i in range(senders)))
    try:
        async with asyncio.timeout(60):
            while len(consumer.received) < total:
                connections += 1
                assert connections <= 2000, "bounded reconnect loop"
                budget = rng.randint(1, 60)  # events processed before disconnecting
                async with subscribe(
                    mail_stub, rcpt, cursor=consumer.cursor, view=MESSAGE_VIEW_ENVELOPE
                ) as stream:
                    for _ in range(budget):
                        event = await stream.event()
                        if event.HasField("item"):
                            consumer.process(event.item)
                        elif rng.random() < 0.5:
                            # The tail cursor is as good a resume point as the last item's.
                            consumer.cursor = event.heartbeat.tail_cursor
                        if len(consumer.received) == total:
                            break
                # Disconnected: sometimes let mail pile up before reconnecting.
                if rng.random() < 0.2:
                    await asyncio.sleep(rng.random() * 0.02)
            await sending
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending

    assert connections >= 20, f"only {connections} connections: the scenario did not reconnect"
    received = consumer.received
    assert len(received) == total
    assert consumer.seen == {(s, q) for s in range(senders) for q in range(per_sender)}
    for s in range(senders):
        seqs = [q for _, sender, q in received if sender == s]
        assert seqs == list(range(per_sender)), f"sender {s} out of order"
    ids = [i for i, _, _ in received]
    assert ids == sorted(ids) and len(set(ids)) == total
    await wait_until(lambda: server.hub.stats().subscriptions == 0, what="streams released")


async def test_resume_across_restart(
    tmp_path: Any,
    start_server: Any,
    connect: Any,
    subscribe: Any,
    send: Any,
    register_agents: Any,
    rpc_failure: Any,
) -> None:
    data_dir = tmp_path / "d"
    async with start_server(data_dir) as first, connect(first.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        agents = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob")
        )
        alice, bob = agents["Alice"], agents["Bob"]
        async with subscribe(mail, bob) as stream:
            await stream.until_live()
            before = [await send(mail, alice, to=["Bob"], subject=f"b{i}") for i in range(5)]
            got = await stream.items(5)
            assert [i.message.id for i in got] == [m.id for m in before]
            resume_from = got[-1].cursor  # the last item this consumer processed
            # Sent but not processed before the stop: must come again after the restart.
            unprocessed = [await send(mail, alice, to=["Bob"], subject=f"u{i}") for i in range(3)]

            stopping = asyncio.create_task(first.stop())
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                for _ in range(10):  # whatever is still in flight, then the error
                    await stream.event()
            await stopping
            failure = rpc_failure(caught.value)
            assert (failure.code, failure.reason) == (
                grpc.StatusCode.UNAVAILABLE,
                "SHUTTING_DOWN",
            )
            assert failure.retry_delay_seconds is not None and failure.retry_delay_seconds > 0

    async with start_server(data_dir) as second, connect(second.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        missed = [await send(mail, alice, to=["Bob"], subject=f"m{i}") for i in range(4)]
        async with subscribe(mail, bob, cursor=resume_from) as stream:
            replayed = await stream.until_live()
            assert [i.message.id for i in replayed] == [m.id for m in unprocessed + missed]
            assert [i.message.subject for i in replayed] == [
                *(f"u{i}" for i in range(3)),
                *(f"m{i}" for i in range(4)),
            ]
            assert min(m.id for m in missed) > max(m.id for m in before + unprocessed)
            live = await send(mail, alice, to=["Bob"], subject="live")
            assert (await stream.item()).message.id == live.id


async def test_shutdown_unavailable(
    tmp_path: Any,
    start_server: Any,
    connect: Any,
    subscribe: Any,
    send: Any,
    register_agents: Any,
    rpc_failure: Any,
) -> None:
    async with start_server(tmp_path / "d") as srv, connect(srv.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        agents = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob", "Carol")
        )
        async with (
            subscribe(mail, agents["Bob"]) as idle,
            subscribe(mail, agents["Bob"], urgent_only=True) as filtered,
            subscribe(mail, agents["Carol"], view=MESSAGE_VIEW_FULL) as busy,
        ):
            for stream in (idle, filtered, busy):
                await stream.until_live()
            await send(mail, agents["Alice"], to=["Carol"])
            await busy.item()
            assert srv.hub.stats().subscriptions == 3

            stopping = asyncio.create_task(srv.stop())
            for stream in (idle, filtered, busy):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    for _ in range(10):
                        await stream.event()
                failure = rpc_failure(caught.value)
                assert (failure.code, failure.reason) == (
                    grpc.StatusCode.UNAVAILABLE,
                    "SHUTTING_DOWN",
                ), failure
                assert failure.retry_delay_seconds is not None
                assert failure.retry_delay_seconds > 0
                assert failure.message
            await stopping
            assert srv.hub.stats().subscriptions == 0


async def test_subscription_limit(
    tmp_path: Any,
    start_server: Any,
    connect: Any,
    subscribe: Any,
    send: Any,
    register_agents: Any,
    rpc_failure: Any,
    expect_error: Any,
    wait_until: Any,
) -> None:
    async with (
        start_server(tmp_path / "d", max_subscriptions=2) as srv,
        connect(srv.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        agents = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob", "Carol")
        )
        alice, bob, carol = agents["Alice"], agents["Bob"], agents["Carol"]
        async with subscribe(mail, bob) as one, subscribe(mail, carol) as two:
            await one.until_live()
            await two.until_live()
            for agent in (alice, bob, alice):
                async with subscribe(mail, agent) as third:
                    failure = await expect_error(
                        third.call.read(),
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        "TOO_MANY_SUBSCRIPTIONS",
                    )
                    assert failure.retry_delay_seconds is not None
                    assert failure.retry_delay_seconds > 0
            stats = srv.hub.stats()
            assert stats.subscriptions == 2, "refused streams hold no slot"

            # The open streams are unaffected.
            sent = await send(mail, alice, to=["Bob", "Carol"])
            assert (await one.item()).message.id == sent.id
            assert (await two.item()).message.id == sent.id

            # Closing a stream frees its slot.
            one.cancel()
            await wait_until(lambda: srv.hub.stats().subscriptions == 1, what="slot freed")
            async with subscribe(mail, alice) as again:
                await again.until_live()
                assert srv.hub.stats().subscriptions == 2
                later = await send(mail, bob, to=["Alice", "Carol"])
                assert (await again.item()).message.id == later.id
                assert (await two.item()).message.id == later.id
        await wait_until(lambda: srv.hub.stats().subscriptions == 0, what="all slots freed")
