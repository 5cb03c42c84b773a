"""Render stats snapshots as Prometheus metric families (pure functions, no I/O).

Names follow Prometheus conventions: base units (seconds, bytes), ``_total`` on counters, and
the ``grpc_server_*`` names and labels of go-grpc-prometheus so existing dashboards work.
Labels only ever carry fixed vocabularies (method names, status codes, cache and file names),
never agent names, message ids or free text.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator, Sequence
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from agentmail_server.hub import HubStats
from agentmail_server.metrics.grpc_metrics import MethodSnapshot
from agentmail_server.services.cache import CacheStats
from agentmail_server.storage.stats import ReadPoolStats, WriterStats

GRPC_LABELS = ("grpc_type", "grpc_service", "grpc_method")


@dataclasses.dataclass(frozen=True)
class SendStats:
    """What committed sends and replies amounted to.

    Attributes:
        messages: new messages committed.
        recipients: inbox deliveries committed (one per recipient of each new message).
        deduplicated: sends answered with an earlier message (repeated idempotency key).
    """

    messages: int
    recipients: int
    deduplicated: int


class ArchiveProgress(Protocol):
    """How far the archive trails the database and what it has written (the archive
    projector's stats snapshot)."""

    @property
    def lag_messages(self) -> int:
        """Committed messages not archived yet."""

    @property
    def lag_seconds(self) -> float:
        """Age of the oldest message not archived yet (0 when caught up)."""

    @property
    def commits(self) -> int:
        """Archive commits since start."""

    @property
    def archived_messages(self) -> int:
        """Messages archived since start."""

    @property
    def failures(self) -> int:
        """Archive steps that failed (and were retried)."""

    @property
    def worker_restarts(self) -> int:
        """Times the archive worker process died and was restarted."""

    @property
    def pack_files(self) -> int:
        """Pack files in the repository."""

    @property
    def leader(self) -> bool:
        """Whether this process writes the archive (on a shared database only one does)."""

    @property
    def pack_bytes(self) -> int:
        """Bytes in those pack files."""

    @property
    def commit_seconds_bounds(self) -> tuple[float, ...]:
        """Bounds of the step-duration histogram."""

    @property
    def commit_seconds_counts(self) -> tuple[int, ...]:
        """Per-bucket counts of step durations (one more than the bounds)."""

    @property
    def commit_seconds_sum(self) -> float:
        """Total seconds of all steps."""


@functools.cache
class CertificateProgress(Protocol):
    """The TLS certificate in service and its reloads (the certificate reloader's stats)."""

    @property
    def reloads(self) -> int:
        """New certificates taken into service after their files changed."""

    @property
    def rejected(self) -> int:
        """Changes of the files refused because the new files could not be used."""

    @property
    def not_after_timestamp(self) -> float:
        """When the certificate in service expires, in seconds since the epoch."""


def _le_values(bounds: tuple[float, ...]) -> tuple[str, ...]:
    return tuple(repr(float(bound)) for bound in bounds)


def histogram_buckets(bounds: tuple[float, ...], counts: Sequence[int]) -> list[tuple[str, float]]:
    """Cumulative ``(le, count)`` pairs, ending with ``+Inf``, from per-bucket counts."""
    total = 0
    buckets: list[tuple[str, float]] = []
    for le, count in zip(_le_values(bounds), counts, strict=False):
        total += count
        buckets.append((le, total))
    total += sum(counts[len(bounds) :])
    buckets.append(("+Inf", total))
    return buckets


def grpc_families(methods: Sequence[MethodSnapshot]) -> Iterator[Metric]:
    """The standard ``grpc_server_*`` families over per-method snapshots.

    Every registered method has its counters from the start; its histogram appears with its
    first call (41 series per method are most of a scrape's cost, and a server rarely serves
    every method).
    """
    started = CounterMetricFamily(
        "grpc_server_started", "RPCs started on the server.", labels=GRPC_LABELS
    )
    handled = CounterMetricFamily(
        "grpc_server_handled",
        "RPCs completed on the server, by status code.",
        labels=(*GRPC_LABELS, "grpc_code"),
    )
    received = CounterMetricFamily(
        "grpc_server_msg_received", "RPC request messages received.", labels=GRPC_LABELS
    )
    sent = CounterMetricFamily(
        "grpc_server_msg_sent", "RPC response messages sent.", labels=GRPC_LABELS
    )
    seconds = HistogramMetricFamily(
        "grpc_server_handling_seconds",
        "Time from the start of an RPC to its end (a stream's last message), in seconds.",
        labels=GRPC_LABELS,
    )
    rejected = CounterMetricFamily(
        "agentmail_rejected_calls",
        "Calls refused by the server, by method and reason (RATE_LIMITED, FLOOD_GUARD, "
        "TOO_MANY_SUBSCRIPTIONS, TOKEN_INVALID, TOKEN_MISSING, PERMISSION_DENIED, ...). Calls "
        "gRPC sheds before any handler runs (maximum_concurrent_rpcs, oversized messages) are "
        "not visible to the server and not counted.",
        labels=("method", "reason"),
    )
    for method in methods:
        labels = [method.rpc_type, method.service, method.method]
        for reason, count in method.rejected:
            rejected.add_metric([f"{method.service}/{method.method}", reason], count)
        started.add_metric(labels, method.started)
        received.add_metric(labels, method.received)
        sent.add_metric(labels, method.sent)
        for code, count in method.handled:
            handled.add_metric([*labels, code], count)
        if method.started:
            buckets = histogram_buckets(method.bounds, method.bucket_counts)
            seconds.add_metric(labels, buckets, method.seconds_sum)
    yield from (started, handled, received, sent, seconds, rejected)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def send_families(sends: SendStats) -> Iterator[Metric]:
    """Messages sent and recipients delivered."""
    yield _counter("agentmail_messages_sent", "New messages committed.", sends.messages)
    yield _counter(
        "agentmail_recipients_delivered",
        "Inbox deliveries committed (one per recipient of each new message).",
        sends.recipients,
    )
    yield _counter(
        "agentmail_messages_deduplicated",
        "Sends answered with an earlier message because their idempotency key repeated.",
        sends.deduplicated,
    )


def writer_families(writer: WriterStats) -> Iterator[Metric]:
    """The single writer: queue, group commits and their timing."""
    yield _gauge(
        "agentmail_writer_queue_depth", "Writes waiting for the writer.", writer.queue_depth
    )
    yield _gauge(
        "agentmail_writer_queue_capacity",
        "Most writes that may wait; beyond it writes fail with RESOURCE_EXHAUSTED.",
        writer.queue_capacity,
    )
    yield _counter("agentmail_writer_batches", "Group commits.", writer.batches)
    yield _counter("agentmail_writer_operations", "Write operations committed.", writer.operations)
    yield _counter(
        "agentmail_writer_failed_operations",
        "Write operations rolled back (their caller got an error).",
        writer.failed_operations,
    )
    yield _counter(
        "agentmail_writer_rejected",
        "Writes refused because the queue was full (RESOURCE_EXHAUSTED).",
        writer.rejected_full,
    )
    batch = HistogramMetricFamily(
        "agentmail_writer_batch_size", "Write operations per group commit."
    )
    batch.add_metric(
        [],
        histogram_buckets(writer.batch_size_bounds, writer.batch_size_counts),
        writer.operations,  # every operation of a committed batch, failed ones included
    )
    yield batch
    commit = HistogramMetricFamily(
        "agentmail_writer_commit_seconds",
        "Time to apply and commit one group (fsync included), in seconds.",
    )
    commit.add_metric(
        [],
        histogram_buckets(writer.commit_seconds_bounds, writer.commit_seconds_counts),
        writer.commit_seconds_sum,
    )
    yield commit


def hub_families(hub: HubStats) -> Iterator[Metric]:
    """Live subscriptions, their buffers and slow consumers."""
    yield _gauge("agentmail_subscriptions", "Open SubscribeInbox streams.", hub.subscriptions)
    yield _gauge(
        "agentmail_subscribed_agents",
        "Agents with at least one open stream.",
        hub.subscribed_agents,
    )
    yield _gauge(
        "agentmail_subscription_buffered_events",
        "Notifications buffered across all streams.",
        hub.buffered_events,
    )
    yield _gauge(
        "agentmail_subscription_buffer_capacity",
        "Notifications one stream may buffer before it catches up from storage.",
        hub.buffer_capacity,
    )
    yield _counter(
        "agentmail_subscription_published_messages",
        "Committed messages fanned out to live streams.",
        hub.published_messages,
    )
    yield _counter(
        "agentmail_subscription_notifications",
        "Notifications buffered for live streams.",
        hub.delivered_notifications,
    )
    yield _counter(
        "agentmail_subscription_overflows",
        "Stream buffers that filled up (slow consumers).",
        hub.overflows,
    )
    yield _counter(
        "agentmail_subscription_catch_ups",
        "Switches of a stream from live delivery to reading storage.",
        hub.catch_ups,
    )


def read_pool_families(pool: ReadPoolStats) -> Iterator[Metric]:
    """The read-only connection pool."""
    yield _gauge("agentmail_read_pool_size", "Read-only database connections.", pool.size)
    yield _gauge("agentmail_read_pool_idle", "Read connections not in use.", pool.idle)
    yield _counter("agentmail_read_queries", "Queries run on the read pool.", pool.queries)


def cache_families(caches: Sequence[tuple[str, CacheStats]]) -> Iterator[Metric]:
    """The LRU caches, labelled by a fixed cache name."""
    entries = GaugeMetricFamily("agentmail_cache_entries", "Entries cached.", labels=["cache"])
    capacity = GaugeMetricFamily(
        "agentmail_cache_capacity", "Most entries cached.", labels=["cache"]
    )
    hits = CounterMetricFamily("agentmail_cache_hits", "Cache lookups answered.", labels=["cache"])
    misses = CounterMetricFamily(
        "agentmail_cache_misses", "Cache lookups that went to the database.", labels=["cache"]
    )
    evictions = CounterMetricFamily(
        "agentmail_cache_evictions", "Entries dropped to stay within capacity.", labels=["cache"]
    )
    for name, stats in caches:
        entries.add_metric([name], stats.size)
        capacity.add_metric([name], stats.capacity)
        hits.add_metric([name], stats.hits)
        misses.add_metric([name], stats.misses)
        evictions.add_metric([name], stats.evictions)
    yield from (entries, capacity, hits, misses, evictions)


def archive_families(archive: ArchiveProgress) -> Iterator[Metric]:
    """How far the archive trails the database, how long its steps take, what it stores.

    On a database several servers share, one process leads (writes the archive): the others
    export ``agentmail_archive_leader`` 0 and a lag of 0, so that summing or taking the maximum
    of the lag over every process gives the leader's.
    """
    yield _gauge(
        "agentmail_archive_leader",
        "1 if this process writes the git archive, 0 if another process does.",
        int(archive.leader),
    )
    yield _gauge(
        "agentmail_archive_lag_messages",
        "Committed messages not yet archived.",
        archive.lag_messages,
    )
    yield _gauge(
        "agentmail_archive_lag_seconds",
        "Age of the oldest message not yet archived, in seconds.",
        archive.lag_seconds,
    )
    yield _counter("agentmail_archive_commits", "Archive commits written.", archive.commits)
    yield _counter(
        "agentmail_archive_messages", "Messages written to the archive.", archive.archived_messages
    )
    yield _counter(
        "agentmail_archive_failures",
        "Archive steps that failed and were retried.",
        archive.failures,
    )
    yield _counter(
        "agentmail_archive_worker_restarts",
        "Times the archive worker process died and was restarted.",
        archive.worker_restarts,
    )
    yield _gauge("agentmail_archive_pack_files", "Pack files in the archive.", archive.pack_files)
    yield _gauge(
        "agentmail_archive_pack_bytes",
        "Size of the archive's pack files (with their indexes), in bytes.",
        archive.pack_bytes,
    )
    step = HistogramMetricFamily(
        "agentmail_archive_step_seconds",
        "Time to read, render, write and make durable one archive step, in seconds.",
    )
    step.add_metric(
        [],
        histogram_buckets(archive.commit_seconds_bounds, archive.commit_seconds_counts),
        archive.commit_seconds_sum,
    )
    yield step


def tls_families(tls: CertificateProgress) -> Iterator[Metric]:
    """The certificate in service: when it expires, and how its rotations went."""
    yield _gauge(
        "agentmail_tls_certificate_expiry_timestamp_seconds",
        "When the TLS certificate in service expires, in seconds since the epoch.",
        tls.not_after_timestamp,
    )
    yield _counter(
        "agentmail_tls_certificate_reloads",
        "TLS certificates taken into service after their files changed, without a restart.",
        tls.reloads,
    )
    yield _counter(
        "agentmail_tls_certificate_rejected",
        "Changes of the TLS files refused because the new files could not be used.",
        tls.rejected,
    )


def database_families(sizes: Sequence[tuple[str, int]]) -> Iterator[Metric]:
    """Database file sizes, labelled ``file="main"`` or ``file="wal"``."""
    size = GaugeMetricFamily(
        "agentmail_database_size_bytes", "Size of the database files.", labels=["file"]
    )
    for name, value in sizes:
        size.add_metric([name], value)
    yield size
