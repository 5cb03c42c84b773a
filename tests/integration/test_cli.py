"""The console command: binds, logs its address, serves, and exits 0 on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc

# The console command as shipped: its archive worker must stop cleanly on a signal too.
pytestmark = pytest.mark.archive

EXIT_SECONDS = 15
METRICS_ON_ANY_PORT = ("--metrics-listen", "127.0.0.1:0")


async def ensure(address: str, human_key: str) -> apb.EnsureProjectResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = agent_service_pb2_grpc.AgentServiceStub(channel)
        return await stub.EnsureProject(apb.EnsureProjectRequest(human_key=human_key), timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_console_command_serves_and_exits_cleanly_on_signal(tmp_path, signum, spawn_server):
    data_dir = tmp_path / "data"

    async with spawn_server(data_dir, *METRICS_ON_ANY_PORT) as server:
        port = int(server.address.rsplit(":", 1)[1])
        created = await ensure(server.address, "/cli/project")
        server.process.send_signal(signum)
        code = await asyncio.wait_for(server.process.wait(), EXIT_SECONDS)

    assert port > 0
    assert created.created is True
    assert code == 0, b"".join(server.log).decode(errors="replace")

    async with spawn_server(data_dir, *METRICS_ON_ANY_PORT) as again:
        existing = await ensure(again.address, "/cli/project")
        again.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.process.wait(), EXIT_SECONDS) == 0

    assert existing.created is False
    assert existing.project == created.project
