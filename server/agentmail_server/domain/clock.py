"""The wall clock the services read, behind a seam so tests can move time on purpose.

Every time the server stores (a message's ``created_at``, a read receipt, an idempotency key's
age, a heartbeat's timestamp) comes from one :class:`Clock` handed to the services by
``services.container.build_services``. Production uses :class:`SystemClock`; a test passes a
:class:`ManualClock` to ``AgentmailServer(config, clock=...)`` and advances it to cross a
time window (the idempotency window, for one) without sleeping.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """A source of wall-clock time."""

    def now_micros(self) -> int:
        """Microseconds since the Unix epoch (how times are stored)."""
        ...


class SystemClock:
    """The operating system's wall clock."""

    def now_micros(self) -> int:
        """Microseconds since the Unix epoch, from ``time.time_ns``."""
        return time.time_ns() // 1000


class ManualClock:
    """A clock that stands still until told to move: for tests only.

    It is read from the event loop and may be advanced from a test's thread, so reads and
    moves take a lock. Time never goes backwards, as the storage assumes of wall time.
    """

    def __init__(self, start_micros: int | None = None) -> None:
        """Start at ``start_micros`` (the system time now when omitted)."""
        self._lock = threading.Lock()
        self._now = SystemClock().now_micros() if start_micros is None else start_micros

    def now_micros(self) -> int:
        """The time last set, in microseconds since the Unix epoch."""
        with self._lock:
            return self._now

    def advance(self, *, seconds: float = 0.0, micros: int = 0) -> int:
        """Move forward by ``seconds`` plus ``micros`` and return the new time.

        Raises:
            ValueError: if the step is negative (time never goes backwards).
        """
        step = round(seconds * 1_000_000) + micros
        if step < 0:
            raise ValueError(f"a clock only moves forward; got a step of {step} microseconds")
        with self._lock:
            self._now += step
            return self._now
