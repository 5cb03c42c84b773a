"""Server-side latency quantiles from the server's Prometheus exposition.

The bench scrapes ``/metrics`` right before and right after a measured phase; the server's own
:func:`agentmail_server.metrics.quantiles.method_latencies` turns the pair into per-method p50
and p99 of ``grpc_server_handling_seconds`` for the calls in between (as PromQL's
``histogram_quantile`` over an ``increase()`` would). Without a metrics endpoint, or with a
server that lacks that function, every server-side figure is ``None`` (shown as "n/a").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

Quantiles = dict[str, float]


def _method_latencies() -> Callable[..., Any] | None:
    try:
        from agentmail_server.metrics.quantiles import method_latencies  # noqa: PLC0415
    except ImportError:
        return None
    return method_latencies  # type: ignore[no-any-return]


def method_quantiles(before: str | None, after: str | None, method: str) -> Quantiles | None:
    """Server-side p50 and p99 (ms) of ``method`` (``/pkg.Service/Method``) between two
    scrapes, or None when there is nothing to compute them from."""
    latencies = _method_latencies()
    if before is None or after is None or latencies is None:
        return None
    _, service, name = method.split("/")
    for entry in latencies(after, since=before):
        if entry.service == service and entry.method == name and entry.calls > 0:
            p50, p99 = entry.p50, entry.p99
            if math.isnan(p50) or math.isnan(p99):
                return None
            return {
                "p50_ms": round(p50 * 1e3, 4),
                "p99_ms": round(p99 * 1e3, 4),
                "count": int(entry.calls),
            }
    return None
