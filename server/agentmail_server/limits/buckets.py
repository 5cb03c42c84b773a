"""Token buckets keyed by subject, in a bounded LRU map: the rate limiter's state.

Why not a library: ``aiolimiter`` makes callers *wait* for capacity (an async context manager
per key, so one object and a future per waiter), and ``limits`` keeps moving windows behind a
lock with timer-based expiry; both cost more than the ~1 µs a check may take on every call, and
neither answers "how long until a token" without waiting, which RetryInfo needs. A bucket here
is one float per subject (the generic cell rate algorithm, GCRA: the token bucket written as the
time at which the bucket will be full again), updated without locks: every check runs on the
event loop thread and never awaits.

Memory: at most ``capacity`` subjects. When full, the least recently used subject is dropped.
A dropped subject that comes back starts with a full bucket, which is what it would have had
anyway once idle for ``burst / rate`` seconds; only a subject that is over its limit *and* has
been passed by ``capacity`` more recent subjects is forgiven early.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Hashable

from agentmail_server.domain.clock import Clock, SystemClock

# Float sums of the interval drift by ulps; a wait shorter than this is no wait.
_SLACK = 1e-9


class Buckets:
    """Token buckets of one rate and burst, one per subject.

    Args:
        rate: tokens added per second (> 0).
        burst: the bucket's size: calls allowed at once after an idle spell (>= 1).
        capacity: the most subjects remembered (>= 1).
        clock: monotonic seconds (``time.monotonic``; tests pass a manual one).
    """

    __slots__ = ("_capacity", "_clock", "_full", "_interval", "_window")

    def __init__(self, rate: float, burst: int, capacity: int, clock: Callable[[], float]) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self._interval = 1.0 / rate
        self._window = burst * self._interval
        self._capacity = capacity
        self._clock = clock
        # Subject -> the time at which its bucket is full again (at or before now: full).
        self._full: collections.OrderedDict[Hashable, float] = collections.OrderedDict()

    def take(self, subject: Hashable, count: int = 1) -> float:
        """Take ``count`` tokens for ``subject``: 0.0 when taken, else the seconds until one is
        available (nothing is taken then).

        A call that takes several (a bulk send counts its messages) is admitted as soon as one
        token is there and may leave the bucket in debt: later calls then wait until the
        rate has paid for every token taken, so the long-run rate holds whatever the sizes.
        """
        now = self._clock()
        full = self._full.get(subject, now)
        full = max(full, now)
        wait = full + self._interval - now - self._window
        if wait > _SLACK:
            return wait
        after = full + self._interval * count
        table = self._full
        table[subject] = after
        table.move_to_end(subject)
        if len(table) > self._capacity:
            table.popitem(last=False)
        return 0.0

    def available(self, subject: Hashable) -> float:
        """Like :meth:`take` without taking: 0.0 when a token is there, else the wait."""
        now = self._clock()
        full = self._full.get(subject, now)
        wait = max(full, now) + self._interval - now - self._window
        return wait if wait > _SLACK else 0.0

    def give_back(self, subject: Hashable) -> None:
        """Return one token taken by :meth:`take` (the work it paid for did not happen)."""
        full = self._full.get(subject)
        if full is not None:
            self._full[subject] = full - self._interval

    def __len__(self) -> int:
        return len(self._full)

    def __contains__(self, subject: Hashable) -> bool:
        return subject in self._full


def monotonic_seconds(clock: Clock) -> Callable[[], float]:
    """The limiters' clock: ``time.monotonic`` for the system clock (wall time may jump back,
    which would refuse a subject until it caught up), the given clock's time for any other
    (tests' ``ManualClock`` never goes back, and moving it is how they refill buckets)."""
    if isinstance(clock, SystemClock):
        return time.monotonic
    return lambda: clock.now_micros() / 1_000_000
