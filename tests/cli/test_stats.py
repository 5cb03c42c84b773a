"""``agentmail stats`` against a real /metrics endpoint, and the pure pieces behind it."""

from __future__ import annotations

import contextlib
import math
import pathlib
from collections.abc import Callable
from typing import Any

import pytest
from agentmail_cli._guard import covers
from agentmail_cli._metrics import histogram_quantile, parse_methods, rate

from .conftest import PROJECT_KEY, Cli

EXPOSITION = """\
# HELP grpc_server_handled_total RPCs completed on the server, by status code.
# TYPE grpc_server_handled_total counter
grpc_server_handled_total{grpc_service="s.Mail",grpc_method="Send",grpc_code="OK"} 8
grpc_server_handled_total{grpc_service="s.Mail",grpc_method="Send",grpc_code="NOT_FOUND"} 2
# HELP grpc_server_handling_seconds Time.
# TYPE grpc_server_handling_seconds histogram
grpc_server_handling_seconds_bucket{grpc_service="s.Mail",grpc_method="Send",le="0.001"} 5
grpc_server_handling_seconds_bucket{grpc_service="s.Mail",grpc_method="Send",le="0.002"} 9
grpc_server_handling_seconds_bucket{grpc_service="s.Mail",grpc_method="Send",le="+Inf"} 10
grpc_server_handling_seconds_sum{grpc_service="s.Mail",grpc_method="Send"} 0.02
grpc_server_handling_seconds_count{grpc_service="s.Mail",grpc_method="Send"} 10
"""


def test_the_exposition_gives_calls_errors_and_quantiles() -> None:
    [send] = parse_methods(EXPOSITION).values()
    assert (send.method, send.calls, send.errors) == ("s.Mail/Send", 10, 2)
    # Rank 5 of 10 is the whole first bucket: its upper bound.
    assert send.quantile(0.5) == pytest.approx(0.001)
    # Rank 9.9 falls in +Inf: the highest finite bound, as PromQL answers.
    assert send.quantile(0.99) == pytest.approx(0.002)
    assert send.quantile(0.7) == pytest.approx(0.001 + 0.001 * (7 - 5) / (9 - 5))
    assert rate(None, send, 2.0) == 5.0


def test_quantiles_without_observations_are_nan() -> None:
    assert math.isnan(histogram_quantile(0.5, [(0.1, 0.0), (math.inf, 0.0)]))
    assert math.isnan(histogram_quantile(0.5, [(0.1, 3.0)]))
    with pytest.raises(ValueError):
        parse_methods("this is { not an exposition")


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("src/**", "README", False),
        ("src/**", "src/README", True),
        ("README", "README", True),
        ("*.md", "docs/a.md", True),
        ("docs/", "docs", False),
        ("src/a.py", "src/a.py", True),
        ("tool://lint", "tool://lint", False),
        ("#notes", "#notes", True),
    ],
)
def test_a_holder_counts_only_when_its_pattern_covers_the_staged_file(
    pattern: str, path: str, expected: bool
) -> None:
    assert covers(pattern, path) is expected


async def test_stats_reads_the_metrics_endpoint(
    tmp_path: pathlib.Path,
    start_server: Callable[..., contextlib.AbstractAsyncContextManager[Any]],
) -> None:
    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0") as server:
        cli = Cli(tmp_path / "home", server.address)
        await cli.ok("project", "ensure", PROJECT_KEY)
        url = ("--metrics-url", f"http://127.0.0.1:{server.metrics_port}/metrics")
        stats = (await cli.ok(*url, "stats", "--interval", "0.2", "--json")).json()
        [ensure] = [m for m in stats["methods"] if m["method"].endswith("/EnsureProject")]
        assert ensure["calls"] == 1 and ensure["errors"] == 0
        assert ensure["p50Seconds"] > 0 and ensure["p99Seconds"] >= ensure["p50Seconds"]
        assert ensure["ratePerSecond"] == 0
        rows = (await cli.ok(*url, "stats", "--interval", "0")).stdout.splitlines()
        assert rows[0].split() == ["method", "calls", "errors", "rate/s", "p50", "ms", "p99", "ms"]
        assert any(row.startswith("agentmail.v1.AgentService/EnsureProject ") for row in rows)
    gone = await cli(*url, "stats", "--json")
    assert (gone.code, gone.error()["reason"]) == (6, "METRICS_UNAVAILABLE")
