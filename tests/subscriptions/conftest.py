"""Subscription fixtures: a reader for one SubscribeInbox stream that is always cancelled at the
end, a small team of agents, and a bounded wait for server-side conditions.

Every read is bounded by ``READ_TIMEOUT``; a test never sleeps to wait for the server: the first
heartbeat of a stream is the signal that the subscription is live.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    events_pb2,
    mail_service_pb2,
    mail_service_pb2_grpc,
    types_pb2,
)

READ_TIMEOUT = 20.0
NAMES = ("Alice", "Bob", "Carol", "Dave")


@dataclasses.dataclass(frozen=True)
class Registered:
    """An agent: project slug, display name and token."""

    project: str
    name: str
    token: str

    @property
    def md(self) -> tuple[tuple[str, str], ...]:
        """Call metadata authenticating as this agent."""
        return (("authorization", f"Bearer {self.token}"),)


class StreamEnded(AssertionError):
    """The stream ended cleanly (EOF) where an event was expected."""


class Stream:
    """One open SubscribeInbox call, read one event at a time with ``call.read()``.

    Remembers the newest heartbeat's tail cursor and the cursor of the last item read, so a
    consumer can resume exactly after what it processed.
    """

    def __init__(self, call: Any) -> None:
        self.call = call
        self.tail_cursor = ""
        self.last_cursor = ""
        self.heartbeats: list[mail_service_pb2.Heartbeat] = []
        # Coordination events read so far (item() and until_live() skip over them).
        self.agent_events: list[events_pb2.AgentEvent] = []
        # The final frame, once received.
        self.end: mail_service_pb2.SubscribeInboxResponse.StreamEnd | None = None

    async def event(self, within: float = READ_TIMEOUT) -> mail_service_pb2.SubscribeInboxResponse:
        """The next event (item, heartbeat or final frame); raises AioRpcError when the
        stream fails. Nothing may follow a final frame but the stream's status."""
        async with asyncio.timeout(within):
            event = await self.call.read()
        if event is grpc.aio.EOF:
            raise StreamEnded("the subscription ended without an error status")
        assert self.end is None, f"{event} after the final frame {self.end}"
        kind = event.WhichOneof("event")
        if kind == "heartbeat":
            self.heartbeats.append(event.heartbeat)
            self.tail_cursor = event.heartbeat.tail_cursor
        elif kind == "end":
            self.end = event.end
        elif kind == "agent_event":
            self.last_cursor = event.agent_event.cursor
            self.agent_events.append(event.agent_event)
        else:
            assert kind == "item", event
            self.last_cursor = event.item.cursor
        return event

    async def until_live(self, within: float = READ_TIMEOUT) -> list[types_pb2.InboxItem]:
        """Read the backlog up to the first heartbeat ("caught up, now live"); return its
        items (coordination events go to :attr:`agent_events`)."""
        backlog: list[types_pb2.InboxItem] = []
        async with asyncio.timeout(within):
            while True:
                event = await self.event(within)
                if event.HasField("heartbeat"):
                    return backlog
                if event.HasField("item"):
                    backlog.append(event.item)

    async def agent_event(self, within: float = READ_TIMEOUT) -> events_pb2.AgentEvent:
        """The next coordination event, skipping heartbeats; fails on an item."""
        async with asyncio.timeout(within):
            while True:
                event = await self.event(within)
                assert not event.HasField("item"), f"expected an event, got {event}"
                if event.HasField("agent_event"):
                    return event.agent_event

    async def item(self, within: float = READ_TIMEOUT) -> types_pb2.InboxItem:
        """The next item, skipping heartbeats."""
        async with asyncio.timeout(within):
            while True:
                event = await self.event(within)
                if event.HasField("item"):
                    return event.item

    async def items(self, count: int, within: float = READ_TIMEOUT) -> list[types_pb2.InboxItem]:
        """The next ``count`` items, skipping heartbeats."""
        return [await self.item(within) for _ in range(count)]

    def cancel(self) -> None:
        """Close the stream from the client side (idempotent)."""
        self.call.cancel()


SubscribeFactory = Callable[..., contextlib.AbstractAsyncContextManager[Stream]]


@contextlib.asynccontextmanager
async def open_stream(
    stub: mail_service_pb2_grpc.MailServiceStub, agent: Any, **request: Any
) -> AsyncIterator[Stream]:
    """A SubscribeInbox stream on ``stub`` authenticated as ``agent`` (a Registered or raw
    metadata), cancelled on exit."""
    metadata = agent.md if hasattr(agent, "md") else agent
    call = stub.SubscribeInbox(mail_service_pb2.SubscribeInboxRequest(**request), metadata=metadata)
    stream = Stream(call)
    try:
        yield stream
    finally:
        stream.cancel()


@pytest.fixture
def subscribe() -> SubscribeFactory:
    """``async with subscribe(stub, agent, **request) as stream``."""
    return open_stream


async def wait_until(
    condition: Callable[[], bool], within: float = READ_TIMEOUT, what: str = "condition"
) -> None:
    """Wait for a server-side condition that has no client-visible event (e.g. the hub having
    forgotten a cancelled stream) by polling it every 5 ms; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while asyncio.get_running_loop().time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.005)
    assert condition(), f"timed out waiting for {what}"


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Awaitable[None]]:
    """``await wait_until(condition, within=..., what=...)``."""
    return wait_until


async def register_agents(
    agent_stub: agent_service_pb2_grpc.AgentServiceStub,
    names: Sequence[str],
    human_key: str = "/work/repos/subscriptions",
    concurrency: int = 1,
) -> dict[str, Registered]:
    """Register ``names`` (in that order when ``concurrency`` is 1) in the project of
    ``human_key``; return them by name."""
    project = await agent_stub.EnsureProject(
        agent_service_pb2.EnsureProjectRequest(human_key=human_key)
    )
    slug = project.project.slug
    gate = asyncio.Semaphore(concurrency)

    async def one(name: str) -> Registered:
        async with gate:
            response = await agent_stub.RegisterAgent(
                agent_service_pb2.RegisterAgentRequest(
                    project=slug, name=name, program="pytest", model="m1"
                )
            )
        assert response.created
        return Registered(slug, response.agent.name, response.agent_token)

    if concurrency == 1:
        return {name: await one(name) for name in names}
    registered = await asyncio.gather(*(one(name) for name in names))
    return {agent.name: agent for agent in registered}


@pytest.fixture(name="register_agents")
def register_agents_fixture() -> Callable[..., Awaitable[dict[str, Registered]]]:
    """``await register_agents(agent_stub, names, human_key=..., concurrency=...)``."""
    return register_agents


@pytest.fixture
async def team(agent_stub: agent_service_pb2_grpc.AgentServiceStub) -> dict[str, Registered]:
    """Alice, Bob, Carol and Dave, registered in that order in a fresh project of ``server``."""
    return await register_agents(agent_stub, NAMES)


async def send_message(
    stub: mail_service_pb2_grpc.MailServiceStub, sender: Any, **fields: Any
) -> types_pb2.Message:
    """Send as ``sender``; return the sender's view of the message."""
    fields.setdefault("subject", "hello")
    fields.setdefault("body", "body text")
    response = await stub.SendMessage(
        mail_service_pb2.SendMessageRequest(**fields), metadata=sender.md
    )
    assert not response.deduplicated
    return response.message


@pytest.fixture
def send() -> Callable[..., Awaitable[types_pb2.Message]]:
    """``await send(stub, sender, to=[...], subject=..., ...)`` -> the sender's view."""
    return send_message
