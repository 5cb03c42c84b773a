"""Histogram bucket bounds for latencies, and the error they allow in a quantile.

``histogram_quantile`` finds the bucket holding the requested rank and interpolates linearly
inside it. The true quantile lies in that same bucket, so with geometric bounds ``(a, f*a]`` the
estimate is off by at most a factor ``f`` either way: at most ``f - 1`` too high or ``1 - 1/f``
too low. With ``f = sqrt(2)`` that is +41 % / -29 % in the worst case (all observations piled at
one edge of a bucket); latencies spread across a bucket land much closer.

The series runs from 25 µs (below the fastest in-process call this server answers) to about 13 s
(beyond any deadline a client sets), 39 bounds per method. Observations below the first bound
are interpolated between 0 and 25 µs; above the last they land in ``+Inf``, for which
``histogram_quantile`` answers the last bound (13.1 s), a lower bound of the truth.
"""

from __future__ import annotations

import math


def geometric_bounds(start: float, factor: float, count: int) -> tuple[float, ...]:
    """``count`` bucket upper bounds ``start * factor**i``, rounded to 4 significant digits.

    Rounding keeps the ``le`` label values short (``0.0001414`` rather than
    ``0.00014142135623730951``); it moves a bound by less than 0.05 %.

    Raises:
        ValueError: ``start`` is not positive, ``factor`` is not above 1 or ``count`` < 1.
    """
    if start <= 0 or factor <= 1 or count < 1:
        raise ValueError("need start > 0, factor > 1 and count >= 1")
    return tuple(float(f"{start * factor**i:.4g}") for i in range(count))


LATENCY_FACTOR = math.sqrt(2)
"""Ratio between neighbouring latency bounds; the worst-case quantile error follows from it."""

LATENCY_BUCKETS: tuple[float, ...] = geometric_bounds(25e-6, LATENCY_FACTOR, 39)
"""Upper bounds (seconds) of ``grpc_server_handling_seconds``: 25 µs .. 13.1 s, factor √2."""


def worst_case_relative_error(factor: float) -> tuple[float, float]:
    """The largest (over, under) relative error of a quantile interpolated in a bucket.

    Args:
        factor: the ratio between a bucket's upper and lower bound.

    Returns:
        ``(factor - 1, 1 - 1/factor)``: how far above and below the true value the estimate
        can land.
    """
    return factor - 1, 1 - 1 / factor
