"""``agentmail-metrics`` scrapes a running server and prints per-method totals and p50/p99."""

from __future__ import annotations

import asyncio
import json
import pathlib
import sys
import tomllib

from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_server.metrics import LATENCY_BUCKETS, method_latencies

ROOT = pathlib.Path(__file__).resolve().parents[2]


async def run_cli(*args: str) -> tuple[int, str, str]:
    """Run the command in a child process (the server's loop must keep answering scrapes)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server.metrics.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def some_calls(metrics) -> None:
    slug = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/cli"))
    ).project.slug
    token = (
        await metrics.agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Alice"))
    ).agent_token
    await metrics.agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Bob"))
    md = (("authorization", f"Bearer {token}"),)
    for i in range(20):
        await metrics.mail.SendMessage(
            mpb.SendMessageRequest(to=["Bob"], subject=f"s{i}"), metadata=md
        )


def test_the_console_script_is_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["agentmail-metrics"] == "agentmail_server.metrics.cli:main"


async def test_prints_calls_and_quantiles_per_called_method(metrics):
    await some_calls(metrics)

    code, out, err = await run_cli("--url", metrics.url)

    assert code == 0, err
    header, *rows = out.splitlines()
    assert header.split() == ["method", "type", "calls", "errors", "p50_ms", "p99_ms", "codes"]
    by_method = {row.split()[0]: row.split() for row in rows}
    assert set(by_method) == {
        "agentmail.v1.AgentService/EnsureProject",
        "agentmail.v1.AgentService/RegisterAgent",
        "agentmail.v1.MailService/SendMessage",
    }
    _, kind, calls, errors, p50, p99, codes = by_method["agentmail.v1.MailService/SendMessage"]
    assert (kind, calls, errors, codes) == ("unary", "20", "0", "OK=20")
    assert LATENCY_BUCKETS[0] * 1e3 / 2 < float(p50) <= float(p99) <= LATENCY_BUCKETS[-1] * 1e3


async def test_json_output_matches_the_library_function(metrics):
    await some_calls(metrics)

    code, out, err = await run_cli("--url", metrics.url, "--json", "--all")
    text = await metrics.scrape()

    assert code == 0, err
    printed = {(m["service"], m["method"]): m for m in json.loads(out)}
    expected = {(m.service, m.method): m for m in method_latencies(text)}
    assert set(printed) == set(expected)  # --all: never-called methods too
    send = printed["agentmail.v1.MailService", "SendMessage"]
    assert send["calls"] == 20 and send["codes"] == {"OK": 20}
    assert send["msg_received"] == send["msg_sent"] == 20
    assert send["p99_seconds"] > 0
    assert printed["agentmail.v1.MailService", "GetMessage"]["p50_seconds"] is None


async def test_an_unreachable_endpoint_exits_1_with_a_message(metrics):
    url = f"http://127.0.0.1:{metrics.server.port}/metrics"  # the gRPC port speaks no HTTP/1

    code, out, err = await run_cli("--url", url, "--timeout", "5")

    assert code == 1
    assert out == ""
    assert "cannot scrape" in err
