"""The console command: binds, logs its address, serves, and exits 0 on SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc

LISTENING = re.compile(r"agentmail listening on (127\.0\.0\.1:(\d+))")
STARTUP_SECONDS = 20
EXIT_SECONDS = 15


class ServerProcess:
    def __init__(self, process: asyncio.subprocess.Process, address: str) -> None:
        self.process = process
        self.address = address
        self.stderr_lines: list[str] = []


async def wait_for_address(process: asyncio.subprocess.Process, seen: list[str]) -> str:
    assert process.stderr is not None
    while True:
        line = await process.stderr.readline()
        if not line:
            raise AssertionError(f"server exited before listening: {''.join(seen)}")
        text = line.decode(errors="replace")
        seen.append(text)
        match = LISTENING.search(text)
        if match:
            return match.group(1)


async def drain(process: asyncio.subprocess.Process, seen: list[str]) -> None:
    assert process.stderr is not None
    async for line in process.stderr:
        seen.append(line.decode(errors="replace"))


@contextlib.asynccontextmanager
async def server_process(data_dir) -> AsyncIterator[ServerProcess]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data_dir),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    seen: list[str] = []
    drainer = None
    try:
        address = await asyncio.wait_for(wait_for_address(process, seen), STARTUP_SECONDS)
        handle = ServerProcess(process, address)
        handle.stderr_lines = seen
        drainer = asyncio.create_task(drain(process, seen))
        yield handle
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if drainer is not None:
            await asyncio.wait_for(drainer, EXIT_SECONDS)


async def ensure(address: str, human_key: str) -> apb.EnsureProjectResponse:
    async with grpc.aio.insecure_channel(address) as channel:
        stub = agent_service_pb2_grpc.AgentServiceStub(channel)
        return await stub.EnsureProject(apb.EnsureProjectRequest(human_key=human_key), timeout=10)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_console_command_serves_and_exits_cleanly_on_signal(tmp_path, signum):
    data_dir = tmp_path / "data"

    async with server_process(data_dir) as server:
        port = int(server.address.rsplit(":", 1)[1])
        created = await ensure(server.address, "/cli/project")
        server.process.send_signal(signum)
        code = await asyncio.wait_for(server.process.wait(), EXIT_SECONDS)

    assert port > 0
    assert created.created is True
    assert code == 0, "".join(server.stderr_lines)

    async with server_process(data_dir) as again:
        existing = await ensure(again.address, "/cli/project")
        again.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.process.wait(), EXIT_SECONDS) == 0

    assert existing.created is False
    assert existing.project == created.project
