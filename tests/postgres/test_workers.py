"""``--workers N``: N serving processes on one port over one PostgreSQL database.

The supervisor is started as an operator would (``python -m agentmail_server --workers 2``);
the tests read its log for both workers' addresses, spread connections over the port, and check
that both workers served, that mail crosses between them, and how the set stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import shlex
import signal
import sys
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc
from conftest import CHANNEL_OPTIONS, LISTENING, create_project, register_agent
from subscriptions.conftest import open_stream

METRICS = re.compile(rb"metrics on (http://\S+/metrics)")
WORKERS = 2
CONNECTIONS = 16
WITHIN = 30.0


class Supervised:
    """The supervisor process, the address its workers share and their metrics URLs."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.addresses: list[str] = []
        self.metrics: list[str] = []
        self.log: list[bytes] = []


@contextlib.asynccontextmanager
async def supervised(data_dir: pathlib.Path, url: str) -> AsyncIterator[Supervised]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        *("--workers", str(WORKERS), "--database-url", url, "--archive", "false"),
        *("--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"),
        *("--data-dir", str(data_dir), "--log-level", "INFO", "--flood-guard-per-minute", "0"),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Supervised(process)

    async def until_both_serve() -> None:
        assert process.stderr is not None
        while len(running.addresses) < WORKERS or len(running.metrics) < WORKERS:
            line = await process.stderr.readline()
            if not line:
                raise AssertionError(f"exited before serving: {b''.join(running.log)!r}")
            running.log.append(line)
            if match := LISTENING.search(line):
                running.addresses.append(match.group(1).decode())
            if match := METRICS.search(line):
                running.metrics.append(match.group(1).decode())

    async def drain() -> None:
        assert process.stderr is not None
        while line := await process.stderr.readline():
            running.log.append(line)

    drainer = None
    try:
        await asyncio.wait_for(until_both_serve(), WITHIN)
        drainer = asyncio.create_task(drain())
        yield running
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WITHIN)
        if drainer is not None:
            await asyncio.wait_for(drainer, WITHIN)


def handled_sends(metrics_url: str) -> float:
    """SendMessage calls one worker has handled, from its /metrics."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    pattern = r'grpc_server_handled_total\{[^}]*grpc_method="SendMessage"[^}]*\} (\S+)'
    return sum(float(value) for value in re.findall(pattern, text))


def own_connection(address: str) -> grpc.aio.Channel:
    """A channel with a TCP connection of its own (not shared through the global pool), so
    the kernel picks a worker for each."""
    options = (*CHANNEL_OPTIONS, ("grpc.use_local_subchannel_pool", 1))
    return grpc.aio.insecure_channel(address, options=options)


async def test_workers_share_one_port_and_mail_crosses_between_them(
    tmp_path: pathlib.Path, backend_settings: dict[str, Any]
) -> None:
    async with supervised(tmp_path, backend_settings["database_url"]) as running:
        assert len(set(running.addresses)) == 1, running.addresses  # one port for all
        address = running.addresses[0]
        channels = [own_connection(address) for _ in range(CONNECTIONS)]
        try:
            agents = agent_service_pb2_grpc.AgentServiceStub(channels[0])
            project = await create_project(agents, "/work/workers")
            rcpt = await register_agent(agents, project, "Rcpt")
            sender = await register_agent(agents, project, "Sender")
            async with open_stream(mail_service_pb2_grpc.MailServiceStub(channels[0]), rcpt) as s:
                assert await s.until_live() == []
                sent = []
                for n, channel in enumerate(channels):
                    response = await mail_service_pb2_grpc.MailServiceStub(channel).SendMessage(
                        mail_service_pb2.SendMessageRequest(to=["Rcpt"], subject=f"m{n}"),
                        metadata=sender.md,
                    )
                    sent.append(response.message.id)
                received = [item.message.id for item in await s.items(len(sent), within=WITHIN)]
            assert received == sent  # whichever worker took each send, once each, in order
        finally:
            for channel in channels:
                await channel.close()
        # With 16 connections the kernel leaves a worker idle once in 2**15 runs.
        counts = [handled_sends(url) for url in running.metrics]
        assert sum(counts) == CONNECTIONS and all(count > 0 for count in counts), counts
        running.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(running.process.wait(), WITHIN) == 0


async def test_a_worker_that_dies_stops_the_set_with_status_1(
    tmp_path: pathlib.Path, backend_settings: dict[str, Any]
) -> None:
    async with supervised(tmp_path, backend_settings["database_url"]) as running:
        workers = _children(running.process.pid)
        assert len(workers) == WORKERS
        os.kill(workers[0], signal.SIGKILL)
        assert await asyncio.wait_for(running.process.wait(), WITHIN) == 1
        assert b"worker 0 exited with status -9; stopping the others" in b"".join(running.log)
        assert not any(_alive(pid) for pid in workers)  # the others stopped and were reaped


def _children(pid: int) -> list[int]:
    text = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    return pathlib.Path(f"/proc/{pid}").exists()


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--workers", "2"), "several workers need a shared database: pass --database-url"),
        (("--workers", "0"), "workers must be between 1 and 64"),
    ],
)
async def test_workers_are_refused_where_they_cannot_work(
    tmp_path: pathlib.Path, flags: tuple[str, ...], says: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        *flags,
        *("--listen", "127.0.0.1:0", "--data-dir", str(tmp_path)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), WITHIN)
    assert process.returncode == 2
    assert says.encode() in err


def _several_servers_commands() -> list[str]:
    """The shell lines of the README's "Running several servers" section."""
    readme = (pathlib.Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Running several servers", 1)[1].split("\n#", 1)[0]
    block = re.search(r"^```sh\n(.*?)^```$", section, flags=re.MULTILINE | re.DOTALL)
    assert block is not None, "the section lost its commands"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


async def test_the_readme_commands_for_several_servers_work(
    tmp_path: pathlib.Path, backend_settings: dict[str, Any]
) -> None:
    # The README's commands, run as written but for where they point: the database is this
    # session's scratch one (the README's createdb names the same host, user and database as
    # its URL), and the ports are free ones.
    create, start = _several_servers_commands()
    url = re.search(r"--database-url (\S+)", start)
    assert url is not None
    parts = urllib.parse.urlsplit(url.group(1))
    assert create == f"createdb -h {parts.hostname} -U {parts.username} {parts.path[1:]}"
    argv = shlex.split(start)
    assert argv[0] == "agentmail-server"
    argv[argv.index("--database-url") + 1] = backend_settings["database_url"]
    argv[argv.index("--listen") + 1] = "127.0.0.1:0"
    workers = int(argv[argv.index("--workers") + 1])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        *argv[1:],
        *("--metrics-listen", "127.0.0.1:0", "--data-dir", str(tmp_path)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        addresses: list[str] = []
        while len(addresses) < workers:
            line = await asyncio.wait_for(process.stderr.readline(), WITHIN)
            assert line, "the server exited before its workers listened"
            if match := LISTENING.search(line):
                addresses.append(match.group(1).decode())
        assert len(set(addresses)) == 1
        channel = own_connection(addresses[0])
        try:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            project = await create_project(agents, "/work/readme")
            alice = await register_agent(agents, project, "Alice")
            await register_agent(agents, project, "Bob")
            await mail_service_pb2_grpc.MailServiceStub(channel).SendMessage(
                mail_service_pb2.SendMessageRequest(to=["Bob"], subject="hi"), metadata=alice.md
            )
        finally:
            await channel.close()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WITHIN) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
