"""Per-method gRPC call statistics, recorded by the interceptor and read as snapshots.

The interceptor asks :class:`RpcMetrics` once per method for a :class:`MethodStats` and then
reports every call to it: plain integer updates on the event loop, no locks and no label
lookups per call. The Prometheus collector reads frozen :class:`MethodSnapshot` copies (on the
loop as well) and renders them as the standard ``grpc_server_*`` families.

Label values come only from the methods the server registers (unknown methods never reach the
interceptor's wrapper) and from the fixed set of status codes (:data:`CODE_LABELS`), so
cardinality is bounded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import grpc
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from agentmail_server.histogram import BucketCounts
from agentmail_server.metrics.buckets import LATENCY_BUCKETS

UNARY = "unary"
CLIENT_STREAM = "client_stream"
SERVER_STREAM = "server_stream"
BIDI_STREAM = "bidi_stream"
RPC_TYPES = (UNARY, CLIENT_STREAM, SERVER_STREAM, BIDI_STREAM)

# The ``grpc_code`` label of each status, spelled as go-grpc-prometheus writes it (Go's
# ``codes.Code.String()``): published gRPC dashboards and alerts filter on these names.
CODE_LABELS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}


def rpc_type_of(method: MethodDescriptor) -> str:
    """The ``grpc_type`` label of a method: unary, client_stream, server_stream or bidi_stream."""
    if method.client_streaming:
        return BIDI_STREAM if method.server_streaming else CLIENT_STREAM
    return SERVER_STREAM if method.server_streaming else UNARY


@dataclasses.dataclass(frozen=True)
class MethodSnapshot:
    """One method's counters at one moment.

    Attributes:
        service: full service name, e.g. ``agentmail.v1.MailService``.
        method: method name, e.g. ``SendMessage``.
        rpc_type: one of :data:`RPC_TYPES`.
        started: calls begun.
        received: request messages received.
        sent: response messages sent.
        handled: finished calls by ``grpc_code`` label (``OK``, ``NotFound``, ...; see
            :data:`CODE_LABELS`).
        bounds: the histogram's finite upper bounds, in seconds.
        bucket_counts: finished calls per bucket (not cumulative); one more than ``bounds``,
            the last counting calls slower than every bound.
        seconds_sum: total handling time of finished calls.
        rejected: refused calls by reason (``RATE_LIMITED``, ``TOKEN_INVALID``, ...).
    """

    service: str
    method: str
    rpc_type: str
    started: int
    received: int
    sent: int
    handled: tuple[tuple[str, int], ...]
    bounds: tuple[float, ...]
    bucket_counts: tuple[int, ...]
    seconds_sum: float
    rejected: tuple[tuple[str, int], ...] = ()


class MethodStats:
    """The live counters of one method; every call reports to it from the event loop."""

    __slots__ = (
        "_durations",
        "_handled",
        "_received",
        "_rejected",
        "_sent",
        "_started",
        "_unary_request",
        "_unary_response",
        "method",
        "rpc_type",
        "service",
    )

    def __init__(self, service: str, method: str, rpc_type: str, bounds: tuple[float, ...]):
        if rpc_type not in RPC_TYPES:
            raise ValueError(f"unknown rpc type {rpc_type!r}")
        self.service = service
        self.method = method
        self.rpc_type = rpc_type
        self._unary_request = rpc_type in (UNARY, SERVER_STREAM)
        self._unary_response = rpc_type in (UNARY, CLIENT_STREAM)
        self._started = 0
        self._received = 0
        self._sent = 0
        self._handled: dict[str, int] = {}
        # Reasons are the server's constants (ErrorInfo reasons, status names): bounded.
        self._rejected: dict[str, int] = {}
        self._durations = BucketCounts(bounds)

    def started(self) -> None:
        """A call began; a unary request counts as its one received message."""
        self._started += 1
        if self._unary_request:
            self._received += 1

    def received(self) -> None:
        """A streamed request message arrived."""
        self._received += 1

    def sent(self) -> None:
        """A streamed response message went out."""
        self._sent += 1

    def handled(self, code: grpc.StatusCode, seconds: float) -> None:
        """A call finished with status ``code`` after ``seconds``.

        A unary response that ended OK counts as one sent message.
        """
        label = CODE_LABELS[code]
        handled = self._handled
        handled[label] = handled.get(label, 0) + 1
        self._durations.observe(seconds)
        if self._unary_response and code is grpc.StatusCode.OK:
            self._sent += 1

    def rejected(self, reason: str) -> None:
        """A call was refused for ``reason`` (also counted by :meth:`handled`)."""
        rejected = self._rejected
        rejected[reason] = rejected.get(reason, 0) + 1

    def snapshot(self) -> MethodSnapshot:
        """A frozen copy of the counters."""
        return MethodSnapshot(
            service=self.service,
            method=self.method,
            rpc_type=self.rpc_type,
            started=self._started,
            received=self._received,
            sent=self._sent,
            handled=tuple(sorted(self._handled.items())),
            bounds=self._durations.bounds,
            bucket_counts=self._durations.counts(),
            seconds_sum=self._durations.total,
            rejected=tuple(sorted(self._rejected.items())),
        )


def split_method(full_method: str) -> tuple[str, str]:
    """``/pkg.Service/Method`` -> ``("pkg.Service", "Method")``."""
    service, _, method = full_method.lstrip("/").rpartition("/")
    return service, method


class RpcMetrics:
    """Per-method call statistics for the whole server (the interceptor's observer).

    Args:
        bounds: histogram upper bounds in seconds (default :data:`LATENCY_BUCKETS`).
    """

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        if list(bounds) != sorted(set(bounds)) or not bounds:
            raise ValueError("bounds must be non-empty, increasing and distinct")
        self._bounds = bounds
        self._methods: dict[str, MethodStats] = {}

    def recorder(self, full_method: str, rpc_type: str) -> MethodStats:
        """The statistics of ``full_method`` (``/pkg.Service/Method``), created on first use."""
        stats = self._methods.get(full_method)
        if stats is None:
            service, method = split_method(full_method)
            stats = MethodStats(service, method, rpc_type, self._bounds)
            self._methods[full_method] = stats
        return stats

    def register_services(self, services: Iterable[ServiceDescriptor]) -> None:
        """Create every method's series at zero before its first call.

        Prometheus' ``rate()`` then sees the first calls too, and dashboards list every method.
        """
        for service in services:
            for method in service.methods:
                self.recorder(f"/{service.full_name}/{method.name}", rpc_type_of(method))

    def stats(self) -> tuple[MethodSnapshot, ...]:
        """Frozen copies of every method's counters, ordered by service and method."""
        return tuple(
            stats.snapshot()
            for stats in sorted(self._methods.values(), key=lambda s: (s.service, s.method))
        )
