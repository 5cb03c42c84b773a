"""Scenario 9: the MCP bridge's ``wait_for_mail``, from SendMessage to the tool's return, and
the bridge's start-up (issue 16).

A server of its own (archive off, as in scenarios 2, 3 and 7) is seeded with Alice and Bob.
The bench process is the MCP client: it drives ``agentmail-mcp`` (acting as Alice) over stdio
with the SDK's own client, as a harness would.

- **Start-up.** ``mcp_starts`` times: spawn a fresh bridge, ``initialize``, ``tools/list``;
  the time from spawn to the tool list is what a harness waits before an agent thread can
  use the mail tools.
- **Wake-up.** One bridge; ``mcp_messages`` times: call ``wait_for_mail``, wait until the
  server counts the call's subscription (the ``agentmail_subscriptions`` gauge, scraped
  every 2 ms, bounded) so that the message takes the live path rather than the backlog the
  call would return at once, then Bob (a typed client in this process) sends one 512-byte
  message; the clock runs from just before SendMessage until the tool's result is back in
  this process. The send's own latency is recorded beside it, as are the server's and the
  bridge's CPU per wake-up.
- **Ceiling.** The empty unary RPC, sequential, on the same server, from a load generator.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import re
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bench.core import Measurement, Run, log
from bench.hdr import Histogram
from bench.scenarios import ceiling
from bench.seed import SeededAgent, Seeder
from bench.server import ServerProcess, running_server

SCENARIO = "9"
PREFIX = "s9"
BRIDGE = pathlib.Path(sys.executable).parent / "agentmail-mcp"
BODY = "m" * 512
_GAUGE = re.compile(r"^agentmail_subscriptions (\S+)$", re.MULTILINE)
# Bounds: a wake-up waits at most this long; the gauge is watched at most this long.
_WAIT_SECONDS = 30
_GAUGE_SECONDS = 5.0
_GAUGE_EVERY = 0.002


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` so far (0 when it is gone)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _bridge_pid() -> int | None:
    """The PID of the bridge this process spawned (the SDK does not expose it)."""
    for task in pathlib.Path("/proc/self/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = pathlib.Path(f"/proc/{child}/cmdline")
            try:
                if b"agentmail-mcp" in cmdline.read_bytes():
                    return int(child)
            except OSError:
                continue
    return None


class _Gauge:
    """The server's count of open subscriptions, read from its metrics endpoint."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server

    async def value(self) -> float | None:
        text = await asyncio.to_thread(self._server.scrape)
        match = _GAUGE.search(text or "")
        return float(match.group(1)) if match else None

    async def until(self, wanted: float) -> bool:
        """Waits (bounded) until the gauge reads ``wanted``; False if it never did."""
        deadline = time.monotonic() + _GAUGE_SECONDS
        while time.monotonic() < deadline:
            if await self.value() == wanted:
                return True
            await asyncio.sleep(_GAUGE_EVERY)
        return False


def _env(
    server: ServerProcess, slug: str, alice: SeededAgent, home: pathlib.Path
) -> dict[str, str]:
    token_file = home / "alice.token"
    if not token_file.exists():
        fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(alice.token + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")}
    env.update(
        AGENTMAIL_ADDRESS=server.address,
        AGENTMAIL_PROJECT=slug,
        AGENTMAIL_AGENT=alice.name,
        AGENTMAIL_TOKEN_FILE=str(token_file),
        AGENTMAIL_MCP_STATE_DIR=str(home / "state"),
    )
    return env


@asynccontextmanager
async def _bridge(env: dict[str, str]) -> AsyncIterator[Any]:
    from mcp.client.session import ClientSession  # noqa: PLC0415 - only this scenario needs it
    from mcp.client.stdio import StdioServerParameters, stdio_client  # noqa: PLC0415

    params = StdioServerParameters(command=str(BRIDGE), env=env)
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


async def _startups(env: dict[str, str], count: int) -> tuple[Histogram, Histogram]:
    """Wall time from spawn to the tool list, and the bridge's own CPU time by then (which a
    busy machine does not inflate)."""
    wall, cpu = Histogram(), Histogram()
    for _ in range(count):
        started = time.perf_counter_ns()
        async with _bridge(env) as session:
            tools = await session.list_tools()
            wall.record(time.perf_counter_ns() - started)
            pid = _bridge_pid()
            if pid is not None:
                cpu.record(int(_cpu_seconds(pid) * 1e9))
            assert any(tool.name == "wait_for_mail" for tool in tools.tools)
    return wall, cpu


async def _wakeups(
    server: ServerProcess, env: dict[str, str], bob_token: str, count: int, warmup: int
) -> dict[str, Any]:
    from agentmail_client import AgentmailClient  # noqa: PLC0415

    wake, send = Histogram(), Histogram()
    gauge = _Gauge(server)
    unconfirmed = errors = 0
    async with _bridge(env) as session, AgentmailClient(server.address, token=bob_token) as bob:
        pid = _bridge_pid()
        idle = await gauge.value() or 0.0

        async def timed_wait() -> tuple[Any, int]:
            result = await session.call_tool("wait_for_mail", {"timeout_seconds": _WAIT_SECONDS})
            return result, time.perf_counter_ns()

        # The first call starts the bridge's cursor at the inbox tail.
        await session.call_tool("wait_for_mail", {"timeout_seconds": 1})
        server_cpu = bridge_cpu = client_cpu = 0.0
        for index in range(warmup + count):
            measuring = index >= warmup
            await gauge.until(idle)  # the previous call's stream has closed
            bridge_before = _cpu_seconds(pid or 0)
            waiting = asyncio.ensure_future(timed_wait())
            live = await gauge.until(idle + 1)
            # The server's and this process's CPU from here on: the gauge's scrapes are over.
            cpu = (server.cpu_seconds(), time.process_time())
            started = time.perf_counter_ns()
            await bob.send_message("Alice", subject=f"wake {index}", body=BODY)
            sent = time.perf_counter_ns()
            async with asyncio.timeout(_WAIT_SECONDS * 2):
                result, returned = await waiting
            if not measuring:
                continue
            server_cpu += server.cpu_seconds() - cpu[0]
            client_cpu += time.process_time() - cpu[1]
            bridge_cpu += _cpu_seconds(pid or 0) - bridge_before
            got = (result.structured_content or {}).get("messages", [])
            if result.is_error or len(got) != 1:
                errors += 1
                continue
            unconfirmed += not live
            wake.record(returned - started)
            send.record(sent - started)
    per_call = 1e6 / max(wake.count, 1)
    return {
        "wake": wake,
        "send": send,
        "unconfirmed": unconfirmed,
        "errors": errors,
        # Server and client (this process): from the send to the return, so the send itself,
        # the fan-out and the wake-up, without the gauge's scrapes before it (nor the opening
        # of the call's subscription). Bridge: the whole call, subscription opening included.
        "server_cpu_us_per_call": round(server_cpu * per_call, 1),
        "bridge_cpu_us_per_call": round(bridge_cpu * per_call, 1) if pid else None,
        "client_cpu_us_per_call": round(client_cpu * per_call, 1),
    }


def _latency(hist: Histogram, **extra: Any) -> dict[str, Any]:
    return {"count": hist.count, "latency_ms": hist.summary_ms(), **extra}


def run_scenario(run: Run) -> None:
    """Seed Alice and Bob, start a server, measure the ceiling, start-ups and wake-ups."""
    data = run.data_dir("mcp")
    with Seeder(data) as seeder:
        project = seeder.project("/bench/mcp", ["Alice", "Bob"])
    home = run.scratch / "mcp-bridge"
    home.mkdir(mode=0o700)
    count, starts = run.scale.mcp_messages, run.scale.mcp_starts
    warmup = max(1, min(10, count // 10))
    with running_server(data, cpus=run.server_cpus, archive=False) as server:
        run.settled("mcp", server)
        ceiling.unary(run, server, f"{PREFIX}.ceiling", 1, SCENARIO, " (same server)")
        reference = run.ceilings[f"{PREFIX}.ceiling.unary.c1"]
        env = _env(server, project.slug, project.agent("Alice"), home)
        log(f"scenario 9: {starts} bridge start-ups")
        started, cpu_used = asyncio.run(_startups(env, starts))
        run.add(
            Measurement(
                key=f"{PREFIX}.startup",
                scenario=SCENARIO,
                name="agentmail-mcp start-up: spawn to tools listed",
                value=_latency(started, bridge_cpu_ms=cpu_used.summary_ms()),
                hist=started,
                note="bridge_cpu_ms: the bridge's CPU time by then; the wall time grows with "
                "the machine's load, the CPU time hardly",
            )
        )
        log(f"scenario 9: {count} wake-ups (after {warmup} unrecorded)")
        woken = asyncio.run(_wakeups(server, env, project.agent("Bob").token, count, warmup))
        cpu = {k: v for k, v in woken.items() if k.endswith("_per_call") and v is not None}
        run.add(
            Measurement(
                key=f"{PREFIX}.wake",
                scenario=SCENARIO,
                name="SendMessage to wait_for_mail's return, through the bridge",
                value=_latency(
                    woken["wake"],
                    **cpu,
                    not_confirmed_live=woken["unconfirmed"],
                    **({"errors": woken["errors"]} if woken["errors"] else {}),
                ),
                ceiling=reference,
                hist=woken["wake"],
                note="each message sent once the call's subscription was open (the live path); "
                "server and client CPU from the send to the return, the bridge's over the call",
            )
        )
        run.add(
            Measurement(
                key=f"{PREFIX}.send",
                scenario=SCENARIO,
                name="SendMessage itself, in the same loop (typed client)",
                value=_latency(woken["send"]),
                ceiling=reference,
                hist=woken["send"],
            )
        )
