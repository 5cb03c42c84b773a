"""A background job that runs one step at start and then every ``interval`` seconds.

Shared by the retention purge and the reservation sweep: the same start, the same stop
(after the step in progress, before storage closes) and a ``stopping`` event a long step
checks between its batches so that shutdown does not wait for a whole run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable


class PeriodicTask:
    """Runs ``step`` at :meth:`start` and then ``interval_seconds`` after each run ends.

    Args:
        name: The asyncio task's name (shown in task dumps).
        interval_seconds: Time between the end of one run and the start of the next.
        step: One run; its result is ignored, its exceptions end the task (let them be
            handled inside the step: a background job must not die silently).
    """

    def __init__(
        self, name: str, interval_seconds: float, step: Callable[[], Awaitable[object]]
    ) -> None:
        self._name = name
        self._interval = interval_seconds
        self._step = step
        self.stopping = asyncio.Event()
        """Set by :meth:`stop`: a step that loops over batches checks it between them."""
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until :meth:`stop` (idempotent)."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while not self.stopping.is_set():
            await self._step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), self._interval)

    async def stop(self) -> None:
        """Stop after the run in progress (call before storage closes)."""
        self.stopping.set()
        task, self._task = self._task, None
        if task is not None:
            await task
