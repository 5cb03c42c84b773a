"""Last-active times without a write per call, and the optional idle retirement.

Every authenticated call stamps its agent in an in-memory map (:meth:`Presence.touch`: a dict
store, no I/O). A background task flushes the map every ``flush_seconds`` as ONE write
operation, so a thousand calls a second from a hundred agents cost one small write every few
seconds instead of a thousand. The map is bounded: at ``max_pending`` agents a flush is started
at once, and stamps of further agents are dropped until it is taken (counted in
:meth:`stats`); an agent already in the map is always updated. The server flushes once more
at shutdown, before the storage closes, so a clean stop loses nothing.

When ``auto_retire_idle_seconds`` is set, the same task retires agents idle for longer, by
the injectable clock (one batch per operation until none is left).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging

from agentmail_server.domain.clock import Clock
from agentmail_server.errors import ResourceExhausted, Unavailable
from agentmail_server.storage.ports import LifecycleWrites

logger = logging.getLogger(__name__)

# Least time between two idle-retirement sweeps.
SWEEP_INTERVAL_SECONDS = 60.0


@dataclasses.dataclass(frozen=True, slots=True)
class PresenceStats:
    """A snapshot of the presence map.

    Attributes:
        pending: agents stamped since the last flush.
        capacity: the most agents the map holds.
        flushes: flush operations committed.
        dropped: stamps dropped because the map was full.
        retired: agents retired for idleness.
    """

    pending: int
    capacity: int
    flushes: int
    dropped: int
    retired: int


class Presence:
    """Collects last-active stamps and writes them in batches.

    Args:
        writes: the storage's lifecycle writes.
        clock: the server's clock (stamps and idle retirement read it).
        max_pending: the most agents held between two flushes.
        flush_seconds: time between two flushes.
        auto_retire_idle_seconds: retire agents idle for longer than this; 0 never.
    """

    def __init__(
        self,
        writes: LifecycleWrites,
        clock: Clock,
        *,
        max_pending: int,
        flush_seconds: float,
        auto_retire_idle_seconds: int = 0,
    ) -> None:
        self._writes = writes
        self._clock = clock
        self._max_pending = max_pending
        self._flush_seconds = flush_seconds
        self._auto_retire_micros = auto_retire_idle_seconds * 1_000_000
        self._pending: dict[int, int] = {}
        # The stamps a flush is writing now: still the newest known until it commits.
        self._in_flight: dict[int, int] = {}
        self._flushes = 0
        self._dropped = 0
        self._retired = 0
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False

    def touch(self, agent_id: int) -> None:
        """Note that the agent is active now (called on every authenticated call)."""
        pending = self._pending
        if agent_id not in pending and len(pending) >= self._max_pending:
            self._dropped += 1
            self._wake.set()
            return
        pending[agent_id] = self._clock.now_micros()
        if len(pending) >= self._max_pending:
            self._wake.set()

    def pending_time(self, agent_id: int) -> int | None:
        """The agent's stamp not yet written, if any (newer than the stored time)."""
        found = self._pending.get(agent_id)
        return self._in_flight.get(agent_id) if found is None else found

    async def flush(self) -> int:
        """Write the pending stamps as one operation; returns how many agents it wrote.

        Stamps are put back when the write fails (queue full or storage failing), so the next
        flush carries them; a newer stamp taken meanwhile wins.
        """
        if not self._pending:
            return 0
        stamps, self._pending = self._pending, {}
        self._in_flight = stamps
        try:
            written = await self._writes.touch_agents(sorted(stamps.items()))
        except (ResourceExhausted, Unavailable):
            for agent_id, when in stamps.items():
                self._pending[agent_id] = max(when, self._pending.get(agent_id, 0))
            raise
        finally:
            self._in_flight = {}
        self._flushes += 1
        return written

    async def retire_idle_once(self) -> int:
        """Retire every agent idle past the threshold now; returns how many (0 when off)."""
        if not self._auto_retire_micros:
            return 0
        # Stamps not yet written prove activity: write them first, so that no active agent
        # is judged by an old stored time.
        await self.flush()
        now = self._clock.now_micros()
        total = 0
        while True:
            retired = await self._writes.retire_idle(now - self._auto_retire_micros, now)
            total += len(retired)
            if not retired:
                break
        self._retired += total
        if total:
            logger.info("retired %d agent(s) idle for over %d s", total, self._auto_retire_micros)
        return total

    def start(self) -> None:
        """Start the background flush (and idle retirement) task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="presence")

    async def stop(self) -> None:
        """Stop the task, then flush what is left (before the storage closes)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(ResourceExhausted, Unavailable):
            await self.flush()

    def stats(self) -> PresenceStats:
        """A snapshot of the map and its counters."""
        return PresenceStats(
            pending=len(self._pending),
            capacity=self._max_pending,
            flushes=self._flushes,
            dropped=self._dropped,
            retired=self._retired,
        )

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            try:
                await self.flush()
                # The sweep reads every agent: at most once a minute, however often we flush.
                if self._auto_retire_micros and loop.time() >= next_sweep:
                    next_sweep = loop.time() + SWEEP_INTERVAL_SECONDS
                    await self.retire_idle_once()
            except (ResourceExhausted, Unavailable) as exc:
                logger.warning("presence: could not write (%s); retrying later", exc.reason)
