"""Prometheus metrics: per-RPC statistics, a collector over the components' ``stats()``
snapshots, the ``/metrics`` endpoint and latency quantiles from an exposition.

The request path only updates plain counters (:class:`RpcMetrics` through the interceptor,
:class:`SendCounter` as a commit listener); everything else is read when Prometheus scrapes.
"""

from agentmail_server.metrics.buckets import (
    LATENCY_BUCKETS,
    LATENCY_FACTOR,
    geometric_bounds,
    worst_case_relative_error,
)
from agentmail_server.metrics.collector import (
    AgentmailCollector,
    MetricSources,
    SendCounter,
    ServiceSnapshot,
)
from agentmail_server.metrics.exporter import MetricsExporter, build_registry, parse_listen
from agentmail_server.metrics.families import ArchiveProgress, SendStats
from agentmail_server.metrics.grpc_metrics import MethodSnapshot, MethodStats, RpcMetrics
from agentmail_server.metrics.quantiles import (
    MethodLatency,
    histogram_quantile,
    method_latencies,
)

__all__ = [
    "LATENCY_BUCKETS",
    "LATENCY_FACTOR",
    "AgentmailCollector",
    "ArchiveProgress",
    "MethodLatency",
    "MethodSnapshot",
    "MethodStats",
    "MetricSources",
    "MetricsExporter",
    "RpcMetrics",
    "SendCounter",
    "SendStats",
    "ServiceSnapshot",
    "build_registry",
    "geometric_bounds",
    "histogram_quantile",
    "method_latencies",
    "parse_listen",
    "worst_case_relative_error",
]
