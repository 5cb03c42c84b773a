"""Metrics fixtures: a server with its /metrics endpoint on a free port, a scraper that never
blocks the event loop (the collector takes its snapshot on that loop), and exposition readers.
"""

from __future__ import annotations

import asyncio
import pathlib
import urllib.request
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT = 10.0


class MetricsServer:
    """A running server, a channel to it and its stubs, and its scrape URL."""

    def __init__(self, server: Any, channel: grpc.aio.Channel) -> None:
        self.server = server
        self.channel = channel
        self.agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        self.mail = mail_service_pb2_grpc.MailServiceStub(channel)
        self.url = f"http://127.0.0.1:{server.metrics_port}/metrics"

    async def scrape(self) -> str:
        """The exposition text, fetched from another thread (the loop must stay free)."""
        return await asyncio.to_thread(fetch, self.url)

    async def samples(self) -> Samples:
        """The current samples, parsed."""
        return Samples(await self.scrape())


def fetch(url: str) -> str:
    """GET ``url`` and return the body as text (blocking)."""
    with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT) as response:
        return str(response.read().decode("utf-8"))


class Samples:
    """An exposition parsed with prometheus-client's parser, with lookups for tests."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples = [sample for family in self.families.values() for sample in family.samples]

    def value(self, name: str, **labels: str) -> float:
        """The one sample called ``name`` whose labels include ``labels``; 0 when absent."""
        found = [s.value for s in self.samples if s.name == name and _matches(s.labels, labels)]
        assert len(found) <= 1, f"{name}{labels} matches {len(found)} samples"
        return found[0] if found else 0.0

    def handled(self, method: str) -> dict[str, float]:
        """``grpc_server_handled_total`` of ``method`` by code, zeros left out."""
        return {
            s.labels["grpc_code"]: s.value
            for s in self.samples
            if s.name == "grpc_server_handled_total"
            and s.labels["grpc_method"] == method
            and s.value
        }

    def rpc(self, name: str, method: str) -> float:
        """A per-method sample, e.g. ``rpc("grpc_server_msg_sent_total", "SendMessage")``."""
        return self.value(name, grpc_method=method)


def _matches(have: Mapping[str, str], want: Mapping[str, str]) -> bool:
    return all(have.get(key) == value for key, value in want.items())


@pytest.fixture
async def metrics(
    tmp_path: pathlib.Path,
    start_server: Callable[..., Any],
    connect: Callable[[str], Any],
) -> AsyncIterator[MetricsServer]:
    """A server with metrics on 127.0.0.1 port 0 and long heartbeats, plus a channel to it."""
    async with (
        start_server(tmp_path / "data", metrics_listen="127.0.0.1:0", heartbeat_seconds=60) as srv,
        connect(srv.address) as channel,
    ):
        yield MetricsServer(srv, channel)


async def poll(check: Callable[[], Any], within: float = 10.0, interval: float = 0.02) -> Any:
    """Await ``check()`` until it returns something truthy; fail after ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {within}s; last result {result!r}")
        await asyncio.sleep(interval)


@pytest.fixture(name="poll")
def poll_fixture() -> Callable[..., Any]:
    """``await poll(async_check, within=..., interval=...)``."""
    return poll


@pytest.fixture(name="parse_samples")
def parse_samples_fixture() -> Callable[[str], Samples]:
    """``parse_samples(text)``: an exposition parsed into :class:`Samples`."""
    return Samples


@pytest.fixture(name="fetch")
def fetch_fixture() -> Callable[[str], str]:
    """``fetch(url)``: GET a URL and return the body (blocking: run it in a thread)."""
    return fetch
