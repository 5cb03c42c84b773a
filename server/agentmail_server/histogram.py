"""Fixed-bucket histograms counted on the hot path and exported as snapshots.

One implementation for every histogram the server keeps (call durations, writer batches and
commits, archive steps): counting is one ``bisect`` and two additions, and a snapshot is a
tuple copy, so a component can count on its own thread and be read from the loop.
"""

from __future__ import annotations

import bisect


class BucketCounts:
    """Counts observations into buckets with the given upper bounds.

    Counts are per bucket (not cumulative), one more than the bounds: the last counts values
    above every bound. A value equal to a bound belongs to that bound's bucket (Prometheus'
    ``le``).
    """

    __slots__ = ("_counts", "bounds", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self._counts = [0] * (len(bounds) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation."""
        self._counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def counts(self) -> tuple[int, ...]:
        """A snapshot of the per-bucket counts (a list copy, atomic under the GIL)."""
        return tuple(self._counts)
