"""Fixtures of the limits tests: a server of one's own with the limits a test sets, on a clock
the test moves, and stubs to it."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2_grpc,
    search_service_pb2_grpc,
)
from agentmail_server.domain.clock import ManualClock

START_MICROS = 1_750_000_000_000_000
Metadata = tuple[tuple[str, str], ...]


@dataclasses.dataclass
class Limited:
    """A running server, its clock and stubs on one channel."""

    server: Any
    clock: ManualClock
    channel: grpc.aio.Channel
    agents: agent_service_pb2_grpc.AgentServiceStub
    mail: mail_service_pb2_grpc.MailServiceStub
    search: search_service_pb2_grpc.SearchServiceStub
    connect: Any

    def server_channel(self) -> contextlib.AbstractAsyncContextManager[grpc.aio.Channel]:
        """A second channel (a new connection) to the server."""
        return self.connect(self.server.address)  # type: ignore[no-any-return]

    async def register(self, name: str, project: str = "/srv/limits") -> Metadata:
        """Register ``name`` (in a project ensured first) and return its call metadata."""
        slug = (
            await self.agents.EnsureProject(
                agent_service_pb2.EnsureProjectRequest(human_key=project)
            )
        ).project.slug
        registered = await self.agents.RegisterAgent(
            agent_service_pb2.RegisterAgentRequest(project=slug, name=name)
        )
        return (("authorization", f"Bearer {registered.agent_token}"),)


@pytest.fixture
def limited(
    tmp_path: pathlib.Path, start_server: Any, connect: Any
) -> Callable[..., contextlib.AbstractAsyncContextManager[Limited]]:
    """``async with limited(**settings) as env``: a server with ``settings`` on a
    ``ManualClock`` (``env.clock``); the limiters read it, so buckets refill only when the
    test advances it."""

    @contextlib.asynccontextmanager
    async def start(**settings: Any) -> AsyncIterator[Limited]:
        clock = ManualClock(START_MICROS)
        async with (
            start_server(tmp_path / "data", clock=clock, **settings) as server,
            connect(server.address) as channel,
        ):
            yield Limited(
                server,
                clock,
                channel,
                agent_service_pb2_grpc.AgentServiceStub(channel),
                mail_service_pb2_grpc.MailServiceStub(channel),
                search_service_pb2_grpc.SearchServiceStub(channel),
                connect,
            )

    return start
