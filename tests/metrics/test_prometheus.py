"""A real Prometheus server scrapes agentmail under load and answers histogram_quantile.

Needs Debian's ``prometheus`` package (``.ci/run`` installs it); skipped without it, except with
``AGENTMAIL_REQUIRE_TOOLS=1`` where it fails. Prometheus runs on loopback with a 1 s scrape
interval, a temporary config and storage, and is stopped by its PID. Every wait is a bounded
poll of its HTTP API.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import math
import os
import pathlib
import shutil
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_server.metrics import LATENCY_BUCKETS, method_latencies

READY_SECONDS = 20.0
ANSWER_SECONDS = 20.0
SENDERS = 4
RATE_P99 = (
    "histogram_quantile(0.99, sum by (le) "
    '(rate(grpc_server_handling_seconds_bucket{grpc_method="SendMessage"}[30s])))'
)
RATE_P50 = RATE_P99.replace("0.99", "0.5", 1)


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        message = (
            "prometheus is not on PATH; install Debian's package: "
            "apt-get install -y --no-install-recommends prometheus"
        )
        if os.environ.get("AGENTMAIL_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusApi:
    """Instant queries against a local Prometheus (loopback only)."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(self.base + path, timeout=5) as response:
            return json.loads(response.read())

    async def query(self, promql: str) -> list[dict[str, Any]]:
        """The result vector of ``promql`` now; empty while Prometheus is starting."""
        path = "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        try:
            body = await asyncio.to_thread(self._get, path)
        except OSError:
            return []
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    async def scalar(self, promql: str) -> float:
        """The single value of ``promql``, NaN when there is none."""
        result = await self.query(promql)
        return float(result[0]["value"][1]) if len(result) == 1 else math.nan

    async def wait_for(self, promql: str, accept: Any, within: float) -> float:
        """Poll ``promql`` every 0.25 s until ``accept(value)``; return that value."""
        deadline = time.monotonic() + within
        value = math.nan
        while time.monotonic() < deadline:
            value = await self.scalar(promql)
            if accept(value):
                return value
            await asyncio.sleep(0.25)
        raise AssertionError(f"Prometheus gave no acceptable answer to {promql} in {within}s")


@contextlib.asynccontextmanager
async def running_prometheus(tmp: pathlib.Path, target_port: int) -> AsyncIterator[PrometheusApi]:
    binary = prometheus_binary()
    config = tmp / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: agentmail\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{target_port}']\n"
    )
    port = free_port()
    log = (tmp / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    try:
        yield PrometheusApi(port)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def send_until(stop: asyncio.Event, metrics: Any, latencies: list[float]) -> None:
    """Senders in a loop until ``stop``; every call's client-side latency is recorded."""
    slug = (
        await metrics.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/m/prometheus"))
    ).project.slug
    await metrics.agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Inbox"))

    async def sender(i: int) -> None:
        token = (
            await metrics.agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name=f"Sender{i}")
            )
        ).agent_token
        md = (("authorization", f"Bearer {token}"),)
        n = 0
        while not stop.is_set():
            request = mpb.SendMessageRequest(to=["Inbox"], subject=f"s{i}-{n}", body="x" * 200)
            started = time.perf_counter()
            await metrics.mail.SendMessage(request, metadata=md)
            latencies.append(time.perf_counter() - started)
            n += 1

    await asyncio.gather(*(sender(i) for i in range(SENDERS)))


def bucket_floor(seconds: float) -> float:
    """The largest latency bound at or below ``seconds`` (0 below the first)."""
    index = bisect.bisect_right(LATENCY_BUCKETS, seconds)
    return LATENCY_BUCKETS[index - 1] if index else 0.0


def bucket_ceiling(seconds: float) -> float:
    """The smallest latency bound at or above ``seconds`` (inf above the last)."""
    index = bisect.bisect_left(LATENCY_BUCKETS, seconds)
    return LATENCY_BUCKETS[index] if index < len(LATENCY_BUCKETS) else math.inf


@pytest.mark.slow
async def test_prometheus_answers_p99_of_send_message_within_client_latencies(
    metrics: Any, tmp_path: pathlib.Path
) -> None:
    latencies: list[float] = []
    stop = asyncio.Event()
    async with running_prometheus(tmp_path, metrics.server.metrics_port) as prometheus:
        await prometheus.wait_for('up{job="agentmail"}', lambda v: v == 1, READY_SECONDS)
        load = asyncio.create_task(send_until(stop, metrics, latencies))
        try:
            p99 = await prometheus.wait_for(RATE_P99, math.isfinite, ANSWER_SECONDS)
            p50 = await prometheus.scalar(RATE_P50)
        finally:
            stop.set()
            await load
        # Once Prometheus holds the final counts, its instant quantile over the raw buckets
        # must equal ours over a scrape: the same interpolation.
        final = (await metrics.samples()).text
        count = next(m for m in method_latencies(final) if m.method == "SendMessage")
        await prometheus.wait_for(
            'grpc_server_handling_seconds_count{grpc_method="SendMessage"}',
            lambda v: v == count.calls,
            ANSWER_SECONDS,
        )
        raw_p99 = await prometheus.scalar(
            "histogram_quantile(0.99, "
            'grpc_server_handling_seconds_bucket{grpc_method="SendMessage"})'
        )

    print(
        f"\nPrometheus over {len(latencies)} sends: p50 {p50 * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"
        f" (client min {min(latencies) * 1e3:.3f} ms, max {max(latencies) * 1e3:.3f} ms)"
    )
    assert bucket_floor(min(latencies)) <= p99 <= bucket_ceiling(max(latencies))
    assert math.isfinite(p50) and p50 <= p99
    assert raw_p99 == pytest.approx(count.p99, rel=1e-9)
