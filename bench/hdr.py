"""An HDR-style latency histogram: log-linear buckets with three significant digits.

Values are recorded in nanoseconds. A value ``v`` falls in the bucket of its top 11 bits, so a
bucket spans at most 1/1024 of its value (0.1 %) whatever the magnitude, from nanoseconds to
minutes, in a few hundred buckets at most. Histograms from several processes merge by adding
counts, and travel between processes as plain dicts. Minimum, maximum and sum are kept exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_SUB_BITS = 11  # 2,048 sub-buckets per power of two: the top 11 bits of a value are kept
_SUB_COUNT = 1 << _SUB_BITS

PERCENTILES = (50.0, 90.0, 99.0, 99.9)


def _index(value: int) -> int:
    shift = max(value.bit_length() - _SUB_BITS, 0)
    return (shift << _SUB_BITS) | (value >> shift)


def _upper(index: int) -> int:
    """The highest value that falls in bucket ``index`` (HDR's 'highest equivalent value')."""
    shift, top = index >> _SUB_BITS, index & (_SUB_COUNT - 1)
    return ((top + 1) << shift) - 1


class Histogram:
    """Counts of recorded latencies (nanoseconds) in log-linear buckets."""

    __slots__ = ("count", "counts", "max", "min", "total")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.total = 0
        self.min = 0
        self.max = 0

    def record(self, nanos: int) -> None:
        """Add one observation (negative values count as 0)."""
        nanos = max(int(nanos), 0)
        index = _index(nanos)
        self.counts[index] = self.counts.get(index, 0) + 1
        if self.count == 0 or nanos < self.min:
            self.min = nanos
        self.max = max(self.max, nanos)
        self.count += 1
        self.total += nanos

    def record_many(self, values: Iterable[int]) -> None:
        """Add several observations."""
        for value in values:
            self.record(value)

    def merge(self, other: Histogram) -> None:
        """Add every observation of ``other`` to this histogram."""
        if other.count == 0:
            return
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.min = other.min if self.count == 0 else min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.count += other.count
        self.total += other.total

    def percentile(self, pct: float) -> int:
        """The value below or at which ``pct`` percent of the observations lie (0 if empty)."""
        if self.count == 0:
            return 0
        if pct >= 100.0:
            return self.max
        rank = max(1, -(-self.count * pct // 100))  # ceil(count * pct / 100), at least 1
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(_upper(index), self.max)
        return self.max

    def mean(self) -> float:
        """The exact mean (0 if empty)."""
        return self.total / self.count if self.count else 0.0

    def summary_ms(self, percentiles: Sequence[float] = PERCENTILES) -> dict[str, float]:
        """``{"p50": .., "p90": .., "p99": .., "p99.9": .., "max": .., "mean": ..}`` in ms."""
        out = {f"p{pct:g}": self.percentile(pct) / 1e6 for pct in percentiles}
        out["max"] = self.max / 1e6
        out["mean"] = self.mean() / 1e6
        return {key: round(value, 4) for key, value in out.items()}

    def cdf(self) -> list[tuple[float, float]]:
        """``(milliseconds, fraction at or below)`` per non-empty bucket, for plotting."""
        points: list[tuple[float, float]] = []
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            points.append((min(_upper(index), self.max) / 1e6, seen / self.count))
        return points

    def to_dict(self) -> dict[str, object]:
        """A JSON-friendly form; :meth:`from_dict` reverses it."""
        return {
            "count": self.count,
            "total_ns": self.total,
            "min_ns": self.min,
            "max_ns": self.max,
            "buckets": [[index, count] for index, count in sorted(self.counts.items())],
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> Histogram:
        """Rebuild a histogram written by :meth:`to_dict`."""
        hist = cls()
        buckets = data["buckets"]
        assert isinstance(buckets, list)
        hist.counts = {int(index): int(count) for index, count in buckets}
        hist.count = int(data["count"])  # type: ignore[call-overload]
        hist.total = int(data["total_ns"])  # type: ignore[call-overload]
        hist.min = int(data["min_ns"])  # type: ignore[call-overload]
        hist.max = int(data["max_ns"])  # type: ignore[call-overload]
        return hist
