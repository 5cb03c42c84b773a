"""SubscribeInbox under load: a slow consumer overflowing its bounded buffer loses nothing, and
one broadcast reaches a thousand open subscriptions."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc, types_pb2
from agentmail.v1.types_pb2 import MESSAGE_VIEW_FULL


class StatsSampler:
    """Checks the hub's memory bound at every sample: buffered notifications never exceed
    ``buffer_capacity`` per open subscription."""

    def __init__(self, hub: Any, capacity: int) -> None:
        self.hub = hub
        self.capacity = capacity
        self.samples = 0
        self.peak_buffered = 0
        self.peak_bound = 0

    def sample(self) -> None:
        stats = self.hub.stats()
        assert stats.buffer_capacity == self.capacity
        bound = stats.buffer_capacity * stats.subscriptions
        assert stats.buffered_events <= bound, stats
        self.peak_buffered = max(self.peak_buffered, stats.buffered_events)
        self.peak_bound = max(self.peak_bound, bound)
        self.samples += 1


@pytest.mark.slow
async def test_slow_consumer(
    tmp_path: Any,
    start_server: Any,
    connect: Any,
    subscribe: Any,
    register_agents: Any,
) -> None:
    total, in_flight, capacity = 10_000, 64, 64
    body = "b" * 1024  # 10,000 x 1 KB is about twice gRPC's ~5 MB stream window
    async with (
        # One agent sends 10,000 messages as fast as it can: past the default write rate limit
        # (1,000/s, bursts of 2,000) on a quick machine; this test is about the hub, not limits.
        start_server(
            tmp_path / "d", subscriber_buffer=capacity, rate_limit_write_per_second=0
        ) as srv,
        connect(srv.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        agents = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob")
        )
        alice, bob = agents["Alice"], agents["Bob"]
        sampler = StatsSampler(srv.hub, capacity)

        gate = asyncio.Semaphore(in_flight)

        async def send_one(seq: int) -> tuple[int, str]:
            async with gate:
                response = await mail.SendMessage(
                    mail_service_pb2.SendMessageRequest(to=["Bob"], subject=f"s{seq}", body=body),
                    metadata=alice.md,
                )
            sampler.sample()
            return int(response.message.id), f"s{seq}"

        burst_committed = asyncio.Event()

        async def read_all(stream: Any) -> list[types_pb2.InboxItem]:
            items: list[types_pb2.InboxItem] = []
            while len(items) < total:
                items.append(await stream.item())
                sampler.sample()
                if len(items) == 500:
                    # The slow consumer stops reading until the burst is committed, so the
                    # stream's flow-control window fills and its hub buffer overflows.
                    await burst_committed.wait()
                await asyncio.sleep(0)
            return items

        async with subscribe(mail, bob, view=MESSAGE_VIEW_FULL) as stream:
            await stream.until_live()
            reading = asyncio.create_task(read_all(stream))
            try:
                async with asyncio.timeout(60):
                    sent = dict(await asyncio.gather(*(send_one(i) for i in range(total))))
                    burst_committed.set()
                    items = await reading
            finally:
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading

        assert [i.message.id for i in items] == sorted(sent), "all, in order, no gap or dup"
        assert [i.message.subject for i in items] == [sent[i.message.id] for i in items]
        assert all(i.message.body == body for i in items)
        stats = srv.hub.stats()
        assert stats.overflows >= 1, stats
        assert stats.catch_ups >= 1, stats
        assert stats.published_messages == total
        assert sampler.samples == 2 * total
        assert 0 < sampler.peak_buffered <= sampler.peak_bound == capacity


@pytest.mark.slow
async def test_many_subscribers_broadcast(
    server: Any,
    agent_stub: Any,
    connect: Any,
    subscribe: Any,
    register_agents: Any,
    send: Any,
    mail_stub: Any,
) -> None:
    count, channels = 1000, 10
    names = [f"agent{i:04d}" for i in range(count)]
    agents = await register_agents(agent_stub, ["Sender", *names], concurrency=32)
    async with contextlib.AsyncExitStack() as stack:
        stubs = [
            mail_service_pb2_grpc.MailServiceStub(
                await stack.enter_async_context(connect(server.address))
            )
            for _ in range(channels)
        ]
        streams = [
            await stack.enter_async_context(subscribe(stubs[i % channels], agents[name]))
            for i, name in enumerate(names)
        ]
        async with asyncio.timeout(30):
            backlogs = await asyncio.gather(*(s.until_live() for s in streams))
        assert all(backlog == [] for backlog in backlogs)
        stats = server.hub.stats()
        assert (stats.subscriptions, stats.subscribed_agents) == (count, count)

        message = await send(mail_stub, agents["Sender"], broadcast=True, subject="all hands")
        assert len(message.to) == count
        async with asyncio.timeout(30):
            items = await asyncio.gather(*(s.item() for s in streams))
        for name, item in zip(names, items, strict=True):
            assert item.message.id == message.id, name
            assert item.kind == types_pb2.RECIPIENT_KIND_TO, name
            assert item.message.subject == "all hands"
        stats = server.hub.stats()
        assert stats.published_messages == 1
        assert stats.delivered_notifications == count
        assert stats.overflows == 0
