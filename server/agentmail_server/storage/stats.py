"""Statistics a storage backend exposes for the metrics: its write queue and its readers."""

from __future__ import annotations

import dataclasses

# Histogram bounds of the writer's batch sizes (1 .. 4096 operations) and commit durations
# (25 µs .. 13.1 s, factor 2), as exported by agentmail_server.metrics.
BATCH_SIZE_BOUNDS: tuple[float, ...] = tuple(float(2**i) for i in range(13))
COMMIT_SECONDS_BOUNDS: tuple[float, ...] = tuple(25e-6 * 2**i for i in range(20))


@dataclasses.dataclass(frozen=True)
class WriterStats:
    """A snapshot of the writer's counters."""

    queue_depth: int
    queue_capacity: int
    batches: int
    operations: int
    failed_operations: int
    rejected_full: int
    last_batch_size: int
    last_commit_seconds: float
    # Histograms of committed batches: counts per bucket (not cumulative), one more than the
    # bounds, the last counting values above every bound.
    batch_size_bounds: tuple[float, ...] = BATCH_SIZE_BOUNDS
    batch_size_counts: tuple[int, ...] = ()
    commit_seconds_bounds: tuple[float, ...] = COMMIT_SECONDS_BOUNDS
    commit_seconds_counts: tuple[int, ...] = ()
    commit_seconds_sum: float = 0.0


@dataclasses.dataclass(frozen=True)
class ReadPoolStats:
    """A snapshot of the read pool's use."""

    size: int
    idle: int
    queries: int
