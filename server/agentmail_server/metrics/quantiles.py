"""p50/p99 per method from an exposition text, computed as Prometheus' ``histogram_quantile``.

For looking at latencies without a Prometheus server: the ``agentmail-metrics`` command and the
benchmarks scrape ``/metrics`` and call :func:`method_latencies`. Given an earlier scrape as
``since``, the figures cover only the calls in between (what ``increase()`` would give).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

from prometheus_client.parser import text_string_to_metric_families

_METHOD_LABELS = ("grpc_type", "grpc_service", "grpc_method")
_PREFIX = "grpc_server_"
_BUCKETS = "grpc_server_handling_seconds_bucket"
_SUM = "grpc_server_handling_seconds_sum"
_HANDLED = "grpc_server_handled_total"
_COUNTERS = {
    "grpc_server_started_total": "started",
    "grpc_server_msg_received_total": "msg_received",
    "grpc_server_msg_sent_total": "msg_sent",
}


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The ``q``-quantile of one classic histogram, exactly as PromQL computes it.

    Linear interpolation inside the bucket that holds rank ``q * count``, from 0 for the first
    bucket; a rank in the ``+Inf`` bucket answers the highest finite bound.

    Args:
        q: the quantile, 0..1 (below 0 gives -inf, above 1 gives +inf, NaN gives NaN).
        buckets: ``(upper_bound, cumulative_count)`` pairs in any order; one bound must be
            ``+inf``. Equal bounds are merged and decreasing counts are raised to their
            predecessor's, as Prometheus does.

    Returns:
        The estimate, or NaN without observations, without a ``+inf`` bucket or with fewer
        than two buckets.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    merged: list[list[float]] = []
    for bound, count in sorted(buckets):
        if merged and merged[-1][0] == bound:
            merged[-1][1] += count
        else:
            merged.append([bound, count])
    if len(merged) < 2 or merged[-1][0] != math.inf:
        return math.nan
    highest = merged[0][1]
    for pair in merged[1:]:  # rates of counters may come out slightly non-monotonic
        highest = max(highest, pair[1])
        pair[1] = highest
    observations = merged[-1][1]
    if observations == 0:
        return math.nan
    rank = q * observations
    index = len(merged) - 1  # the +Inf bucket, unless a finite one reaches the rank
    for i, (_, count) in enumerate(merged[:-1]):
        if count >= rank:
            index = i
            break
    if index == len(merged) - 1:
        return merged[-2][0]
    if index == 0 and merged[0][0] <= 0:
        return merged[0][0]
    start, below = (merged[index - 1][0], merged[index - 1][1]) if index > 0 else (0.0, 0.0)
    end, count = merged[index]
    return start + (end - start) * ((rank - below) / (count - below))


@dataclasses.dataclass(frozen=True)
class MethodLatency:
    """One method's calls and latency histogram, as read from an exposition.

    Attributes:
        service: ``grpc_service`` label, e.g. ``agentmail.v1.MailService``.
        method: ``grpc_method`` label, e.g. ``SendMessage``.
        rpc_type: ``grpc_type`` label.
        started: calls started.
        handled: finished calls by ``grpc_code``, sorted by code.
        msg_received: request messages received.
        msg_sent: response messages sent.
        buckets: ``(upper_bound, cumulative_count)`` of the handling-time histogram, seconds.
        seconds_sum: total handling time, seconds.
    """

    service: str
    method: str
    rpc_type: str
    started: float
    handled: tuple[tuple[str, float], ...]
    msg_received: float
    msg_sent: float
    buckets: tuple[tuple[float, float], ...]
    seconds_sum: float

    @property
    def calls(self) -> float:
        """Finished calls, whatever their code."""
        return sum(count for _, count in self.handled)

    @property
    def errors(self) -> float:
        """Finished calls whose code is not OK."""
        return sum(count for code, count in self.handled if code != "OK")

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the handling time in seconds (NaN without calls)."""
        return histogram_quantile(q, self.buckets)

    @property
    def p50(self) -> float:
        """Median handling time in seconds."""
        return self.quantile(0.5)

    @property
    def p99(self) -> float:
        """99th percentile of the handling time in seconds."""
        return self.quantile(0.99)


_Key = tuple[str, str, str]


def _grpc_samples(text: str) -> dict[tuple[str, _Key, str], float]:
    """``(sample name, (type, service, method), le or grpc_code) -> value``."""
    samples: dict[tuple[str, _Key, str], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith(_PREFIX):
                continue
            labels = sample.labels
            rpc_type, service, method = (labels.get(name, "") for name in _METHOD_LABELS)
            key = (rpc_type, service, method)
            extra = labels.get("le") or labels.get("grpc_code") or ""
            samples[(sample.name, key, extra)] = sample.value
    return samples


def _minus(
    now: dict[tuple[str, _Key, str], float], before: dict[tuple[str, _Key, str], float]
) -> dict[tuple[str, _Key, str], float]:
    # A method whose call count went down was restarted in between: its values stand alone.
    reset = {
        key
        for name, key, extra in now
        if name == _BUCKETS
        and extra == "+Inf"
        and now[(name, key, extra)] < before.get((name, key, extra), 0.0)
    }
    return {
        sample: value if sample[1] in reset else value - before.get(sample, 0.0)
        for sample, value in now.items()
    }


@dataclasses.dataclass
class _Accumulator:
    started: float = 0.0
    msg_received: float = 0.0
    msg_sent: float = 0.0
    seconds_sum: float = 0.0
    handled: dict[str, float] = dataclasses.field(default_factory=dict)
    buckets: dict[float, float] = dataclasses.field(default_factory=dict)


def method_latencies(text: str, since: str | None = None) -> list[MethodLatency]:
    """Per-method calls and latency from a ``/metrics`` exposition text.

    Args:
        text: the exposition (Prometheus text format).
        since: an earlier exposition of the same server; the result then covers only what
            happened between the two scrapes.

    Returns:
        One entry per (type, service, method), sorted by service and method.

    Raises:
        ValueError: the text is not a valid exposition.
    """
    samples = _grpc_samples(text)
    if since is not None:
        samples = _minus(samples, _grpc_samples(since))
    methods: dict[_Key, _Accumulator] = {}
    for (name, key, extra), value in samples.items():
        entry = methods.setdefault(key, _Accumulator())
        if name == _BUCKETS:
            entry.buckets[float(extra)] = value
        elif name == _HANDLED:
            entry.handled[extra] = value
        elif name == _SUM:
            entry.seconds_sum = value
        elif name in _COUNTERS:
            setattr(entry, _COUNTERS[name], value)
    result = [
        MethodLatency(
            service=service,
            method=method,
            rpc_type=rpc_type,
            started=entry.started,
            handled=tuple(sorted(entry.handled.items())),
            msg_received=entry.msg_received,
            msg_sent=entry.msg_sent,
            buckets=tuple(sorted(entry.buckets.items())),
            seconds_sum=entry.seconds_sum,
        )
        for (rpc_type, service, method), entry in methods.items()
    ]
    return sorted(result, key=lambda m: (m.service, m.method, m.rpc_type))
