"""The background task that writes down what time already decided about reservations.

Expiry holds by time at every read and conflict check (the storage compares ``expires_at``
with the caller's clock), so this task never races a request: it only records expired
reservations as released (at their expiry, with reason "expired", so that the archive and
ListReservations show how each ended) and tells holders, once each, that a reservation is
about to expire. Each batch is one write operation through the single writer.
"""

from __future__ import annotations

import logging

from agentmail_server.domain.clock import Clock
from agentmail_server.domain.notices import Notice
from agentmail_server.domain.reservations import Reservation
from agentmail_server.errors import ResourceExhausted, Unavailable
from agentmail_server.services.periodic import PeriodicTask
from agentmail_server.storage.ports import ReservationWrites

logger = logging.getLogger(__name__)

# Reservations handled per write operation: a few milliseconds of the writer's time.
BATCH = 500


class ReservationSweeper:
    """Runs :meth:`sweep_once` at start and then every ``interval_seconds``.

    Args:
        writes: The storage's reservation writes.
        clock: The server's clock (tests pass a ManualClock and call :meth:`sweep_once`).
        interval_seconds: Time between the ends of two runs.
        warning_seconds: How long before expiry a holder is warned; 0 turns warnings off.
    """

    def __init__(
        self,
        writes: ReservationWrites,
        clock: Clock,
        *,
        interval_seconds: float,
        warning_seconds: float,
    ) -> None:
        self._writes = writes
        self._clock = clock
        self._warning_micros = round(warning_seconds * 1_000_000)
        self._periodic = PeriodicTask(
            "agentmail-reservation-sweep", interval_seconds, self.sweep_once
        )
        self._stopping = self._periodic.stopping
        # Totals since start, for logs and tests.
        self.expired = 0
        self.warned = 0
        self.runs = 0

    async def sweep_once(self) -> tuple[list[Reservation], list[Notice]]:
        """Record what expired and warn of what is about to; returns (expired, warnings).

        Stops early, keeping what was done, when the write queue is full (the next run goes
        on) or the server is shutting down.
        """
        expired: list[Reservation] = []
        warned: list[Notice] = []
        try:
            while not self._stopping.is_set():
                batch = await self._writes.expire(self._clock.now_micros(), BATCH)
                expired.extend(batch)
                if len(batch) < BATCH:
                    break
            while self._warning_micros and not self._stopping.is_set():
                warnings = await self._writes.mark_expiring(
                    self._clock.now_micros(), self._warning_micros, BATCH
                )
                warned.extend(warnings)
                if len(warnings) < BATCH:
                    break
        except ResourceExhausted:
            logger.warning("reservation sweep: the write queue is full; going on next run")
        except Unavailable:
            pass
        self.expired += len(expired)
        self.warned += len(warned)
        self.runs += 1
        if expired:
            logger.info("reservation sweep: recorded %d expired reservations", len(expired))
        return expired, warned

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop after the run in progress (before storage closes)."""
        await self._periodic.stop()
