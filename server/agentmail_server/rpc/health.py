"""The health service, with what a graceful stop needs beyond grpc's own servicer.

grpc's asyncio ``HealthServicer`` keeps a ``Watch`` stream open forever, even after
``enter_graceful_shutdown``: each watcher would then hold a stopping server for its whole grace
period and be cancelled at the end. Here a watcher is told NOT_SERVING, the stop can wait until
every watcher has been (so that health turns before anything else a client sees of the
shutdown), and :meth:`ShutdownHealth.end_watches` then ends the streams with UNAVAILABLE
SHUTTING_DOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from grpc_health.v1 import health, health_pb2

from agentmail_server.errors import Unavailable

SERVING = health_pb2.HealthCheckResponse.SERVING


class _Recording:
    """The call context as grpc's Watch sees it: each write is reported once it is sent."""

    def __init__(self, context: Any, wrote: Callable[[int], None]) -> None:
        self._context = context
        self._wrote = wrote

    async def write(self, response: health_pb2.HealthCheckResponse) -> None:
        await self._context.write(response)
        self._wrote(response.status)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._context, name)


class ShutdownHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """grpc's health servicer whose watchers are told NOT_SERVING, then ended, at shutdown."""

    def __init__(self) -> None:
        super().__init__()
        self._ending = asyncio.Event()
        # The last status each open Watch stream has sent (None before its first).
        self._watchers: dict[object, int | None] = {}
        self._written = asyncio.Event()

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        """grpc's Watch, until it fails or :meth:`end_watches` is called.

        Raises:
            Unavailable: SHUTTING_DOWN, when the server ends the stream.
        """
        key = object()
        self._watchers[key] = None
        watch = asyncio.ensure_future(
            super().Watch(request, _Recording(context, lambda status: self._wrote(key, status)))
        )
        ending = asyncio.ensure_future(self._ending.wait())
        try:
            await asyncio.wait({watch, ending}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watch, ending):
                task.cancel()
            await asyncio.wait({watch, ending})
            del self._watchers[key]
        if not watch.cancelled() and watch.exception() is not None:
            raise watch.exception()
        raise Unavailable(
            "SHUTTING_DOWN",
            "the server is shutting down; watch it again once restarted",
            retry_after_seconds=1,
        )

    def _wrote(self, key: object, status: int) -> None:
        if key in self._watchers:
            self._watchers[key] = status
            self._written.set()

    async def wait_told(self, max_seconds: float) -> bool:
        """After ``enter_graceful_shutdown``, wait until every open Watch stream has sent a
        status other than SERVING; False when ``max_seconds`` pass first."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, max_seconds)):
                while not all(s is not None and s != SERVING for s in self._watchers.values()):
                    self._written.clear()
                    await self._written.wait()
                return True
        return False

    def end_watches(self) -> None:
        """End every Watch stream (and any opened later) with UNAVAILABLE SHUTTING_DOWN."""
        self._ending.set()
