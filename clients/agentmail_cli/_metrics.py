"""Per-method calls, errors and p50/p99 from a Prometheus exposition of the server's metrics.

The server exports gRPC metrics in the go-grpc-prometheus shape: ``grpc_server_handled_total``
by ``grpc_code`` and the ``grpc_server_handling_seconds`` histogram, both labelled by
``grpc_service`` and ``grpc_method``. Quantiles are computed from the buckets as PromQL's
``histogram_quantile`` does (linear interpolation within the bucket holding the rank), so no
Prometheus server is needed. The text format is parsed by ``prometheus_client.parser``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping

_HANDLED = "grpc_server_handled_total"
_BUCKET = "grpc_server_handling_seconds_bucket"


@dataclasses.dataclass(frozen=True)
class MethodStats:
    """One method's totals since the server started.

    Attributes:
        method: ``service/method``, e.g. ``agentmail.v1.MailService/SendMessage``.
        calls: Finished calls.
        errors: Finished calls whose status was not OK.
        buckets: ``(upper_bound, cumulative_count)`` of the handling time, seconds.
    """

    method: str
    calls: float
    errors: float
    buckets: tuple[tuple[float, float], ...]

    def quantile(self, q: float) -> float:
        """The ``q``-quantile of the handling time, seconds (NaN without calls)."""
        return histogram_quantile(q, self.buckets)


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """The ``q``-quantile (0..1) of a cumulative histogram, as PromQL computes it.

    Args:
        q: The quantile.
        buckets: ``(upper_bound, cumulative_count)`` pairs; one bound must be ``+inf``.

    Returns:
        The estimate; NaN without observations or without a ``+inf`` bucket. A rank in the
        ``+inf`` bucket answers the highest finite bound.
    """
    ordered = sorted(buckets)
    if len(ordered) < 2 or ordered[-1][0] != math.inf or ordered[-1][1] <= 0:
        return math.nan
    rank = q * ordered[-1][1]
    below_bound, below_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if bound == math.inf:
                return ordered[-2][0]
            if count == below_count:
                return bound
            return below_bound + (bound - below_bound) * (rank - below_count) / (
                count - below_count
            )
        below_bound, below_count = bound, count
    return ordered[-2][0]


def _method(labels: Mapping[str, str]) -> str:
    return f"{labels.get('grpc_service', '?')}/{labels.get('grpc_method', '?')}"


def parse_methods(text: str) -> dict[str, MethodStats]:
    """The per-method statistics of an exposition text, by ``service/method``.

    Raises:
        ValueError: The text is not in the Prometheus text format.
    """
    from prometheus_client.parser import text_string_to_metric_families  # noqa: PLC0415

    calls: dict[str, float] = {}
    errors: dict[str, float] = {}
    buckets: dict[str, list[tuple[float, float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == _HANDLED:
                method = _method(sample.labels)
                calls[method] = calls.get(method, 0.0) + sample.value
                if sample.labels.get("grpc_code") != "OK":
                    errors[method] = errors.get(method, 0.0) + sample.value
            elif sample.name == _BUCKET:
                bound = float(sample.labels["le"])
                buckets.setdefault(_method(sample.labels), []).append((bound, sample.value))
    return {
        method: MethodStats(
            method=method,
            calls=calls.get(method, 0.0),
            errors=errors.get(method, 0.0),
            buckets=tuple(sorted(buckets.get(method, ()))),
        )
        for method in sorted(set(calls) | set(buckets))
    }


def rate(before: MethodStats | None, after: MethodStats, seconds: float) -> float:
    """Calls per second between two scrapes ``seconds`` apart (a counter reset counts from 0)."""
    if seconds <= 0:
        return math.nan
    earlier = before.calls if before is not None else 0.0
    delta = after.calls - earlier if after.calls >= earlier else after.calls
    return delta / seconds
