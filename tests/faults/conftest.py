"""Fault-test helpers: a small filesystem of the test's own, a team registered through the API,
complete inbox listings, health checks, and bounded waits on conditions.

Every server here listens on 127.0.0.1 only; every loop is bounded; the only processes
stopped are the ones a test started, by their PID.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import grpc
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
)
from grpc_health.v1 import health_pb2, health_pb2_grpc

WAIT_SECONDS = 30.0
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def auth(token: str) -> tuple[tuple[str, str], ...]:
    """Call metadata for an agent token."""
    return (("authorization", f"Bearer {token}"),)


@dataclasses.dataclass
class Api:
    """The stubs of one channel."""

    channel: grpc.aio.Channel

    def __post_init__(self) -> None:
        self.agents = agent_service_pb2_grpc.AgentServiceStub(self.channel)
        self.mail = mail_service_pb2_grpc.MailServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def team(self, *names: str) -> dict[str, str]:
        """Register ``names`` in a fresh project; their tokens by name."""
        project = await self.agents.EnsureProject(
            agent_service_pb2.EnsureProjectRequest(human_key="/faults")
        )
        tokens = {}
        for name in names:
            reply = await self.agents.RegisterAgent(
                agent_service_pb2.RegisterAgentRequest(
                    project=project.project.slug, name=name, program="faults", model="m"
                )
            )
            tokens[name] = reply.agent_token
        return tokens

    async def inbox_ids(self, token: str) -> list[int]:
        """Every message id in the inbox of ``token``, oldest first, through all pages."""
        ids: list[int] = []
        page_token = ""
        for _ in range(100_000):  # bounded: far more pages than any test writes
            page = await self.mail.ListInbox(
                mail_service_pb2.ListInboxRequest(page_size=500, page_token=page_token),
                metadata=auth(token),
            )
            ids.extend(item.message.id for item in page.items)
            page_token = page.next_page_token
            if not page_token:
                return ids
        raise AssertionError("the inbox did not end")

    async def health_status(self) -> int:
        """The server's overall health status."""
        reply = await self.health.Check(health_pb2.HealthCheckRequest(service=""))
        return int(reply.status)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], what: str, within: float = WAIT_SECONDS
) -> None:
    """Poll ``condition`` every 20 ms until it holds; fail after ``within`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.02)
    assert await condition(), f"timed out waiting for {what}"


@contextlib.contextmanager
def tmpfs(where: pathlib.Path, size_bytes: int) -> Iterator[pathlib.Path]:
    """A tmpfs of ``size_bytes`` mounted at ``where`` for the test; skips the test when this
    container may not mount (it needs root with CAP_SYS_ADMIN)."""
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_bytes}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs CAP_SYS_ADMIN): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(path: pathlib.Path) -> int:
    """Write ``path`` until its filesystem is full; returns the bytes written (blocking: call
    it in a thread). Bounded by the filesystem's size."""
    written = 0
    with path.open("wb", buffering=0) as out:
        for size in (64 * 1024, 4096, 512, 1):  # smaller pieces until not one byte fits
            while True:
                try:
                    count = out.write(b"\0" * size)
                except OSError:
                    break
                written += count or 0
    return written


@pytest.fixture(name="api_for")
def api_for_fixture() -> Callable[[str], contextlib.AbstractAsyncContextManager[Api]]:
    """``async with api_for(address) as api``: stubs on a channel of the test's own."""

    @contextlib.asynccontextmanager
    async def open_api(address: str) -> AsyncIterator[Api]:
        channel = grpc.aio.insecure_channel(address)
        try:
            yield Api(channel)
        finally:
            await channel.close()

    return open_api
