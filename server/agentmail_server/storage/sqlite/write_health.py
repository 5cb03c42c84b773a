"""Whether the writer's batches commit, who wants to know, and the probe that notices when
they can again.

When a whole batch cannot commit (disk full, read-only, I/O error) the writer reports the
failure here; the health listeners hear of each change of state, and until a batch commits
again a probe runs every ``PROBE_SECONDS``: when space has returned it queues a write that
changes nothing, whose outcome (like any batch's) reports back here. So health comes back by
itself once the disk does, even when no client is writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from agentmail_server.errors import AgentmailError, Unavailable
from agentmail_server.storage.ports import WriteHealthListener

logger = logging.getLogger(__name__)

# How often a failing writer tries a probe write (when no other write comes to try first).
PROBE_SECONDS = 0.5


class WriteHealth:
    """The failure state of the writer's batches, on the loop.

    Args:
        space_returned: whether the database's disk can take writes again (run off the loop).
        probe_write: queues a write that changes nothing and waits for its batch.
    """

    def __init__(
        self,
        space_returned: Callable[[], Awaitable[bool]],
        probe_write: Callable[[], Awaitable[object]],
    ) -> None:
        self._space_returned = space_returned
        self._probe_write = probe_write
        self._failure: Unavailable | None = None
        self._listeners: list[WriteHealthListener] = []
        self._prober: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def failure(self) -> Unavailable | None:
        """Why writes fail now, or None while they commit."""
        return self._failure

    def watch(self, listener: WriteHealthListener) -> None:
        """Call ``listener`` (on the loop) with the error when whole batches start failing,
        and with None when one commits again."""
        self._listeners.append(listener)

    def report(self, failure: Unavailable | None) -> None:
        """A batch's outcome: its failure, or None when it committed."""
        if (failure is None) == (self._failure is None):
            self._failure = failure  # the newest reason, no change of state
            return
        self._failure = failure
        if failure is not None:
            logger.error(
                "writes are failing (%s); probing every %.1fs", failure.reason, PROBE_SECONDS
            )
            if not self._closing and (self._prober is None or self._prober.done()):
                self._prober = asyncio.create_task(self._probe(), name="sqlite-writer-probe")
        else:
            logger.warning("writes commit again")
        for listener in self._listeners:
            listener(failure)

    async def _probe(self) -> None:
        """While batches fail and nothing else tries, try a write that changes nothing."""
        while self._failure is not None and not self._closing:
            await asyncio.sleep(PROBE_SECONDS)
            if self._failure is None or self._closing:
                return
            if not await self._space_returned():
                continue
            # Its outcome reaches report() like any batch's; a full queue means real writes
            # are trying already.
            with contextlib.suppress(AgentmailError):
                await self._probe_write()

    async def close(self) -> None:
        """Stop probing (the writer is closing)."""
        self._closing = True
        if self._prober is not None:
            self._prober.cancel()
            await asyncio.wait({self._prober})
            self._prober = None
