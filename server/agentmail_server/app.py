"""Composition root: opens the backend, builds the services and the endpoint, starts them in
order and stops them in reverse.

Each job lives in its own place: the backend is opened by
:func:`~agentmail_server.storage.backends.open_storage`, the use cases are built by
:func:`~agentmail_server.services.container.build_services`, the gRPC endpoint (with health and
reflection) from the one list in :mod:`agentmail_server.rpc.bindings`, and ``/metrics`` by
:func:`~agentmail_server.metrics.wiring.start_exporter`. This module only orders them.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.descriptor import ServiceDescriptor

from agentmail_server.archive import ArchiveProjector, ArchiveSettings
from agentmail_server.config import ServerConfig
from agentmail_server.datalock import DataFolderLock
from agentmail_server.domain.clock import Clock, SystemClock
from agentmail_server.hub import Hub
from agentmail_server.metrics import MetricsExporter, RpcMetrics
from agentmail_server.metrics.wiring import start_exporter
from agentmail_server.rpc.bindings import service_bindings
from agentmail_server.rpc.server import GrpcEndpoint, health_descriptor
from agentmail_server.services.container import Services, build_services
from agentmail_server.storage.backends import open_storage
from agentmail_server.storage.ports import Storage

logger = logging.getLogger(__name__)


class AgentmailServer:
    """One running agentmail server: storage, services and the gRPC endpoint."""

    def __init__(self, config: ServerConfig, clock: Clock | None = None) -> None:
        """Prepare a server (nothing opens until :meth:`start`).

        Args:
            config: Where the data lives and how to serve.
            clock: The wall clock the services read; the system clock when omitted. Tests pass
                a ``ManualClock`` to cross time windows without waiting.
        """
        self.config = config
        self.clock: Clock = SystemClock() if clock is None else clock
        self.port = 0
        self.address = ""
        self.metrics_port = 0
        self.hub = Hub(config.subscriber_buffer, config.max_subscriptions)
        # The git archive's projector (None when the archive is off); kept after stop() so its
        # final stats() stay readable.
        self.archive: ArchiveProjector | None = None
        self._lock = DataFolderLock(config.data_dir)
        self._storage: Storage | None = None
        self._endpoint: GrpcEndpoint | None = None
        self._exporter: MetricsExporter | None = None

    async def start(self) -> None:
        """Open storage, bind the port and start serving.

        Raises:
            RuntimeError: the data folder is in use by another server, a port is taken, or
                the archive cannot be opened. Nothing is left running.
        """
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.stop(grace=0)
            raise
        logger.info("agentmail listening on %s (data in %s)", self.address, config.data_dir)

    async def _start(self) -> None:
        config = self.config
        self._storage = storage = await open_storage(config)
        if config.archive:
            self.archive = _archive_projector(config)
            try:
                await self.archive.start()
            except Exception as exc:  # pygit2.GitError included: report it as a start failure
                raise RuntimeError(
                    f"could not open the archive {config.archive_path}: {exc}"
                ) from exc
            storage.feed.subscribe(self.archive.notify)
        storage.feed.subscribe(self.hub.publish)
        services = build_services(storage, self.hub, config, self.clock)
        bindings = service_bindings(services)
        rpc_metrics = RpcMetrics() if config.metrics_enabled else None
        self._endpoint = endpoint = GrpcEndpoint(bindings, config, rpc_metrics)
        self.address = endpoint.bind(config.listen)
        self.port = int(self.address.rpartition(":")[2])
        if rpc_metrics is not None:
            self._start_metrics(rpc_metrics, [b.descriptor for b in bindings], services)
        await endpoint.start()

    def _start_metrics(
        self, rpc_metrics: RpcMetrics, descriptors: list[ServiceDescriptor], services: Services
    ) -> None:
        assert self._storage is not None
        try:
            self._exporter = start_exporter(
                self.config.metrics_listen,
                rpc_metrics,
                [*descriptors, health_descriptor()],
                self._storage,
                self.hub,
                services,
                self.archive.stats if self.archive is not None else None,
            )
        except OSError as exc:
            raise RuntimeError(f"could not bind {self.config.metrics_listen}: {exc}") from exc
        self.metrics_port = self._exporter.port
        logger.info("metrics on %s", self._exporter.url)

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving: refuse new calls, let in-flight ones finish within the grace period,
        then drain the write queue and close storage."""
        grace = self.config.grace_seconds if grace is None else grace
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            await endpoint.health.enter_graceful_shutdown()
        # End subscriptions ourselves, with UNAVAILABLE and a retry hint, before the server
        # stops: otherwise they are cancelled at the end of the grace period.
        self.hub.close()
        await self.hub.wait_drained(grace)
        if endpoint is not None:
            await endpoint.server.stop(grace)
            # stop() may return before cancelled handlers' finally blocks have run.
            await asyncio.sleep(0)
        if self._exporter is not None:
            await self._exporter.stop()
            self._exporter = None
        storage, self._storage = self._storage, None
        if storage is not None:
            stats = storage.writer_stats()
            logger.info(
                "writer committed %d operations in %d batches", stats.operations, stats.batches
            )
            await storage.close()
        if self.archive is not None:
            # After the storage, so that its last commits are archived too (within the grace).
            await self.archive.stop(grace)
        self._lock.release()
        logger.info("agentmail stopped")

    async def wait_for_termination(self) -> None:
        """Wait until the gRPC server has stopped."""
        if self._endpoint is not None:
            await self._endpoint.server.wait_for_termination()


def _archive_projector(config: ServerConfig) -> ArchiveProjector:
    """The git archive's projector (its worker process reads the database)."""
    return ArchiveProjector(
        config.database_path,
        ArchiveSettings(
            repository=config.archive_path,
            branch=config.archive_branch,
            author_name=config.archive_author_name,
            author_email=config.archive_author_email,
            max_batch=config.archive_max_batch,
            interval_seconds=config.archive_interval_seconds,
        ),
    )
