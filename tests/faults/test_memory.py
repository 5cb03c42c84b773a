"""Clients that vanish without closing, and subscriptions that never read: the server's memory
stays within a documented bound (RSS from /proc, and the hub's statistics from /metrics).

The CI run holds ``IDLE`` idle and ``STALLED`` stalled subscriptions; set
``AGENTMAIL_FAULTS_FULL=1`` for the full run (10,000 idle, 1,000 stalled), or any counts with
``AGENTMAIL_FAULTS_IDLE`` and ``AGENTMAIL_FAULTS_STALLED``. Figures are printed (``pytest -s``).

What bounds a stalled stream's memory on the server: the hub's buffer (``subscriber_buffer``
notifications, which share the message objects, dropped on overflow: the stream later catches
up from storage), the catch-up page it is blocked in (at most 256 messages), and one message
handed to gRPC: gRPC accepts one outstanding write per stream, and HTTP/2 flow control (the
client's window) with TCP back-pressure hold the rest in the client's kernel and gRPC buffers,
not the server's.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import signal
import sys
import urllib.request
from typing import Any

from agentmail.v1 import mail_service_pb2

from .conftest import auth, wait_for

FULL = os.environ.get("AGENTMAIL_FAULTS_FULL") == "1"
IDLE = int(os.environ.get("AGENTMAIL_FAULTS_IDLE", "10000" if FULL else "1000"))
STALLED = int(os.environ.get("AGENTMAIL_FAULTS_STALLED", "1000" if FULL else "100"))
MAIL = 300  # messages to the stalled agent while its streams are stalled
BODY = "m" * 2048
# The documented bound: server RSS growth per subscription, over the idle server's RSS.
IDLE_BYTES = 40 * 1024
STALLED_BYTES = 200 * 1024
STREAMS = pathlib.Path(__file__).with_name("_streams.py")
METRICS = re.compile(rb"metrics on (http://\S+/metrics)")


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid``, from /proc."""
    status = pathlib.Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    assert match, status
    return int(match.group(1)) * 1024


def scrape(url: str) -> dict[str, float]:
    """The hub's gauges and counters from /metrics (blocking: call it in a thread)."""
    with urllib.request.urlopen(url, timeout=10) as response:  # 127.0.0.1 only
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("agentmail_subscription") and " " in line:
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


async def test_idle_and_stalled_subscriptions_stay_within_the_bound(
    tmp_path: pathlib.Path, spawn_server: Any, api_for: Any
) -> None:
    clients: list[asyncio.subprocess.Process] = []
    async with (
        spawn_server(
            tmp_path / "data",
            "--metrics-listen",
            "127.0.0.1:0",
            "--archive",
            "false",
            "--max-subscriptions",
            str(IDLE + STALLED + 10),
            # One agent holds every stream here, opened as fast as the clients can.
            "--max-subscriptions-per-agent",
            str(IDLE + STALLED + 10),
            "--rate-limit-stream-per-second",
            "0",
        ) as running,
        api_for(running.address) as api,
    ):
        pid = running.process.pid
        url = next(m.group(1).decode() for line in running.log if (m := METRICS.search(line)))
        tokens = await api.team("Alice", "Bob", "Carol")
        baseline = rss_bytes(pid)
        try:
            for name, count in (("Carol", IDLE), ("Bob", STALLED)):
                ready = tmp_path / f"ready-{name}"
                clients.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        str(STREAMS),
                        running.address,
                        tokens[name],
                        str(count),
                        str(ready),
                        stdin=asyncio.subprocess.DEVNULL,
                    )
                )
                client = clients[-1]
                await wait_for(
                    lambda ready=ready, client=client: _ready(ready, client),
                    f"{name}'s streams",
                    600,
                )
                assert client.returncode is None, f"{name}'s client exited: {client.returncode}"
            idle_rss = rss_bytes(pid)
            clients[1].send_signal(signal.SIGSTOP)  # Bob's client: stalled, reads nothing
            for i in range(MAIL):
                await api.mail.SendMessage(
                    mail_service_pb2.SendMessageRequest(to=["Bob"], subject=f"m{i}", body=BODY),
                    metadata=auth(tokens["Alice"]),
                )
            hub = await asyncio.to_thread(scrape, url)
            loaded_rss = rss_bytes(pid)
            print(
                f"\nmemory: baseline {baseline / 2**20:.1f} MiB; {IDLE} idle + {STALLED} open "
                f"{idle_rss / 2**20:.1f} MiB; after {MAIL} messages to the {STALLED} stalled "
                f"{loaded_rss / 2**20:.1f} MiB "
                f"({(loaded_rss - baseline) / (IDLE + STALLED) / 1024:.1f} KiB per subscription)"
                f"; hub {hub}"
            )
            assert hub["agentmail_subscriptions"] == IDLE + STALLED
            capacity = hub["agentmail_subscription_buffer_capacity"]
            assert hub["agentmail_subscription_buffered_events"] <= STALLED * capacity
            assert loaded_rss - baseline <= IDLE * IDLE_BYTES + STALLED * STALLED_BYTES
            # Both clients vanish without closing: the server lets go of every stream.
            for client in clients:
                client.kill()  # SIGKILL to the processes this test started
                await client.wait()

            async def released() -> bool:
                return (await asyncio.to_thread(scrape, url))["agentmail_subscriptions"] == 0

            await wait_for(released, "the vanished clients' streams to be released", 120)
            print(f"memory after the clients vanished: {rss_bytes(pid) / 2**20:.1f} MiB")
        finally:
            for client in clients:
                if client.returncode is None:
                    client.kill()
                    await client.wait()


async def _ready(path: pathlib.Path, client: asyncio.subprocess.Process) -> bool:
    """The client's streams are all open, or it has failed (and will not open them)."""
    return client.returncode is not None or await asyncio.to_thread(path.exists)
