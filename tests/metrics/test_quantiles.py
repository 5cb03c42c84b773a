"""histogram_quantile behaves as PromQL's; method_latencies reads p50/p99 per method from an
exposition; the latency buckets span the service's range with the documented error bound."""

from __future__ import annotations

import itertools
import math
import random

import grpc
import pytest
from agentmail_server.metrics import (
    LATENCY_BUCKETS,
    LATENCY_FACTOR,
    RpcMetrics,
    build_registry,
    histogram_quantile,
    method_latencies,
    worst_case_relative_error,
)
from agentmail_server.metrics.families import grpc_families
from prometheus_client import generate_latest
from prometheus_client.registry import Collector

INF = math.inf


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        # Linear inside the bucket holding rank q * count.
        (0.5, [(0.1, 10), (0.2, 20), (INF, 20)], 0.1),
        (0.75, [(0.1, 10), (0.2, 20), (INF, 20)], 0.15),
        # The first bucket interpolates from 0.
        (0.25, [(0.1, 10), (0.2, 20), (INF, 20)], 0.05),
        # A rank in +Inf answers the highest finite bound.
        (0.99, [(1.0, 5), (INF, 10)], 1.0),
        # Empty buckets below the rank are skipped.
        (0.5, [(1.0, 0), (2.0, 0), (4.0, 10), (INF, 10)], 3.0),
        # Order does not matter; equal bounds are merged.
        (0.5, [(INF, 20), (0.2, 20), (0.1, 4), (0.1, 6)], 0.1),
        # Decreasing counts (rates of counters) are raised to the envelope.
        (0.75, [(0.1, 10), (0.2, 9), (0.4, 20), (INF, 20)], 0.3),
        # A lowest bucket at or below 0 answers its bound.
        (0.1, [(0.0, 5), (1.0, 10), (INF, 10)], 0.0),
    ],
)
def test_histogram_quantile_matches_promql(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("q", "buckets", "check"),
    [
        (0.5, [(1.0, 0), (INF, 0)], math.isnan),  # no observations
        (0.5, [(1.0, 3), (2.0, 4)], math.isnan),  # no +Inf bucket
        (0.5, [(INF, 4)], math.isnan),  # fewer than two buckets
        (math.nan, [(1.0, 3), (INF, 4)], math.isnan),
        (-0.1, [(1.0, 3), (INF, 4)], lambda v: v == -INF),
        (1.1, [(1.0, 3), (INF, 4)], lambda v: v == INF),
    ],
)
def test_histogram_quantile_special_cases(q, buckets, check):
    assert check(histogram_quantile(q, buckets))


def test_latency_buckets_span_tens_of_microseconds_to_seconds():
    assert LATENCY_BUCKETS[0] == 25e-6
    assert 10 < LATENCY_BUCKETS[-1] < 15
    ratios = [b / a for a, b in itertools.pairwise(LATENCY_BUCKETS)]
    assert all(1.41 < r < 1.42 for r in ratios)
    over, under = worst_case_relative_error(LATENCY_FACTOR)
    assert over == pytest.approx(0.4142, abs=1e-4)
    assert under == pytest.approx(0.2929, abs=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_estimates_stay_within_the_documented_error_bound(seed):
    rng = random.Random(seed)
    # Log-uniform latencies from 50 µs to 5 s: every bucket shape is exercised.
    values = sorted(math.exp(rng.uniform(math.log(50e-6), math.log(5.0))) for _ in range(2000))
    stats = RpcMetrics().recorder("/svc.S/M", "unary")
    for value in values:
        stats.started()
        stats.handled(grpc.StatusCode.OK, value)
    snapshot = stats.snapshot()
    total = 0
    buckets = []
    for bound, count in zip((*snapshot.bounds, INF), snapshot.bucket_counts, strict=True):
        total += count
        buckets.append((bound, total))
    # Bounds are rounded to 4 digits: the widest bucket sets the bound.
    widest = max(b / a for a, b in itertools.pairwise(LATENCY_BUCKETS))
    over, under = worst_case_relative_error(widest)
    for q in (0.5, 0.9, 0.99):
        true = values[math.ceil(q * len(values)) - 1]
        estimate = histogram_quantile(q, buckets)
        assert true * (1 - under) <= estimate <= true * (1 + over), (q, true, estimate)


class _Fixed(Collector):
    def __init__(self, metrics: RpcMetrics) -> None:
        self._metrics = metrics

    def collect(self):
        return grpc_families(self._metrics.stats())


def _exposition(metrics: RpcMetrics) -> str:
    return generate_latest(build_registry(_Fixed(metrics))).decode()


def test_method_latencies_reads_calls_codes_and_quantiles_per_method():
    metrics = RpcMetrics()
    send = metrics.recorder("/agentmail.v1.MailService/SendMessage", "unary")
    stream = metrics.recorder("/agentmail.v1.MailService/SubscribeInbox", "server_stream")
    metrics.recorder("/agentmail.v1.MailService/GetMessage", "unary")  # never called
    for i in range(100):
        send.started()
        code = grpc.StatusCode.OK if i < 98 else grpc.StatusCode.NOT_FOUND
        send.handled(code, 0.001 if i < 50 else 0.004)
    stream.started()
    for _ in range(7):
        stream.sent()
    stream.handled(grpc.StatusCode.CANCELLED, 2.0)

    found = {m.method: m for m in method_latencies(_exposition(metrics))}

    send_latency = found["SendMessage"]
    assert (send_latency.service, send_latency.rpc_type) == ("agentmail.v1.MailService", "unary")
    assert send_latency.calls == 100 and send_latency.errors == 2
    assert dict(send_latency.handled) == {"NotFound": 2, "OK": 98}
    assert send_latency.msg_sent == 98 and send_latency.msg_received == 100
    # 1 ms lies in (0.8 ms, 1.131 ms]: the median is that bucket's upper edge.
    assert send_latency.p50 == pytest.approx(0.001131)
    assert 0.0032 < send_latency.p99 <= 0.004525
    assert send_latency.seconds_sum == pytest.approx(0.25)
    assert found["SubscribeInbox"].msg_sent == 7
    assert dict(found["SubscribeInbox"].handled) == {"Canceled": 1}
    assert found["GetMessage"].calls == 0 and math.isnan(found["GetMessage"].p99)


def test_since_limits_the_figures_to_the_calls_in_between():
    metrics = RpcMetrics()
    send = metrics.recorder("/agentmail.v1.MailService/SendMessage", "unary")
    for _ in range(50):
        send.started()
        send.handled(grpc.StatusCode.OK, 0.5)
    before = _exposition(metrics)
    for _ in range(10):
        send.started()
        send.handled(grpc.StatusCode.OK, 0.001)
    after = _exposition(metrics)

    (delta,) = method_latencies(after, since=before)

    assert delta.calls == 10 and delta.started == 10
    assert delta.p99 < 0.0012  # the slow calls before the first scrape are left out
    (restarted,) = method_latencies(before, since=after)  # counts went down: a restart
    assert restarted.calls == 50
