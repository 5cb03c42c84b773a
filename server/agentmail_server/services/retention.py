"""The retention policy: mail older than N days is purged in the background.

Off unless ``retention_days`` is set. A run purges in batches of :data:`BATCH` messages, each
batch one short purge operation of the storage, so sends go on between batches (on SQLite a
write operation through the single writer, committed with whatever else is queued; on
PostgreSQL a transaction of its own that no sender waits behind, one process at a time). Runs
start when the server starts and then every ``interval_seconds``. The git archive is not
touched: it keeps the history of purged mail (rebuild it to drop that history).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agentmail_server.domain.models import now_micros
from agentmail_server.domain.retention import Purged, cutoff
from agentmail_server.errors import ResourceExhausted, Unavailable
from agentmail_server.services.periodic import PeriodicTask
from agentmail_server.storage.ports import RetentionWrites

logger = logging.getLogger(__name__)

# Messages removed per write operation: a few milliseconds of the writer's time.
BATCH = 500
INTERVAL_SECONDS = 3600.0


class RetentionService:
    """Purges mail older than ``days`` days, at start and then periodically.

    Args:
        writes: the storage's purge operation.
        days: the age, in days, beyond which mail goes (at least 1).
        now: the current time in microseconds since the epoch (a parameter for tests).
        batch: messages per purge operation.
        interval_seconds: time between the ends of two runs.
    """

    def __init__(
        self,
        writes: RetentionWrites,
        days: int,
        *,
        now: Callable[[], int] = now_micros,
        batch: int = BATCH,
        interval_seconds: float = INTERVAL_SECONDS,
    ) -> None:
        if days < 1 or batch < 1:
            raise ValueError("retention needs days >= 1 and batch >= 1")
        self._writes = writes
        self.days = days
        self._now = now
        self._batch = batch
        self._periodic = PeriodicTask("agentmail-retention", interval_seconds, self.purge_once)
        self._stopping = self._periodic.stopping
        # Totals since start, for logs and tests; `runs` counts completed runs.
        self.purged = Purged()
        self.runs = 0

    async def purge_once(self) -> Purged:
        """Purge everything older than the policy allows now; returns what went.

        Stops early, keeping what was purged, when the write queue is full (the next run
        goes on) or the server is shutting down.
        """
        before = cutoff(self._now(), self.days)
        total = Purged()
        while not self._stopping.is_set():
            try:
                batch = await self._writes.purge_messages(before, self._batch)
            except ResourceExhausted:
                logger.warning("retention: the write queue is full; going on next run")
                break
            except Unavailable:
                break
            total += batch
            if not batch.more:
                break
        self.purged += total
        self.runs += 1
        if total.messages:
            logger.info(
                "retention: purged %d messages (ids %d-%d), %d deliveries, %d idempotency keys,"
                " %d coordination events",
                total.messages,
                total.first_id,
                total.last_id,
                total.deliveries,
                total.idempotency_keys,
                total.notices,
            )
        return total

    def start(self) -> None:
        """Run in the background until :meth:`stop`."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop after the run in progress (before storage closes)."""
        await self._periodic.stop()
