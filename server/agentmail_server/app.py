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
import time
from collections.abc import Callable

from google.protobuf.descriptor import ServiceDescriptor

from agentmail_server import cursor_key, operator_tokens
from agentmail_server.archive import ArchiveProjector, ArchiveSettings
from agentmail_server.config import ServerConfig
from agentmail_server.datalock import DataFolderLock
from agentmail_server.domain.clock import Clock, SystemClock
from agentmail_server.domain.cursors import CursorCodec
from agentmail_server.errors import Unavailable
from agentmail_server.hub import Hub
from agentmail_server.limits.buckets import monotonic_seconds
from agentmail_server.listen import is_unix_socket
from agentmail_server.metrics import MetricsExporter, RpcMetrics
from agentmail_server.metrics.wiring import start_exporter
from agentmail_server.rpc.admission import Admission
from agentmail_server.rpc.bindings import service_bindings
from agentmail_server.rpc.certificates import ReloadingCertificates
from agentmail_server.rpc.keepalive import ServerKeepalive
from agentmail_server.rpc.server import DEFAULT_KEEPALIVE, GrpcEndpoint, health_descriptor
from agentmail_server.rpc.transport import ListenCredentials, ListenSecurity, listen_credentials
from agentmail_server.services.container import Services, build_services
from agentmail_server.services.reservation_sweeper import ReservationSweeper
from agentmail_server.services.retention import BATCH as RETENTION_BATCH
from agentmail_server.services.retention import RetentionService
from agentmail_server.storage.backends import open_storage
from agentmail_server.storage.ports import Storage
from agentmail_server.storage.stats import WriterStats

logger = logging.getLogger(__name__)

# How long the stopping server keeps gRPC up after the last subscription arrived: streams
# opened just before the shutdown get their final frame rather than gRPC's CANCELLED. Far
# shorter than the retry delay the final frame asks for, so reconnecting clients do not
# prolong it.
SHUTDOWN_QUIET_SECONDS = 0.1


class AgentmailServer:
    """One running agentmail server: storage, services and the gRPC endpoint.

    Args:
        config: the settings.
        clock: the wall clock the services read; the system clock when omitted. Tests pass a
            ``ManualClock`` to cross time windows without waiting.
        retention_now: the retention policy's clock (microseconds since the epoch); the
            server's clock when omitted.
        retention_batch: messages per retention purge operation, for tests.
        keepalive: the gRPC keepalive and ping policy; tests shrink its intervals.
        worker: one of ``--workers``' processes: the supervisor holds the data folder's lock
            and created the cursor key for all of them (see :mod:`.workers`).
    """

    def __init__(
        self,
        config: ServerConfig,
        clock: Clock | None = None,
        *,
        retention_now: Callable[[], int] | None = None,
        retention_batch: int = RETENTION_BATCH,
        keepalive: ServerKeepalive = DEFAULT_KEEPALIVE,
        worker: bool = False,
    ) -> None:
        self.config = config
        self.clock: Clock = SystemClock() if clock is None else clock
        # The bound TCP port (0 for a unix: socket) and address (host:port, or unix:PATH).
        self.port = 0
        self.address = ""
        self.metrics_port = 0
        self.hub = Hub(config.subscriber_buffer, config.max_subscriptions)
        # The git archive's projector (None when the archive is off); kept after stop() so its
        # final stats() stay readable.
        self.archive: ArchiveProjector | None = None
        # The retention policy's background purge (None when retention_days is 0).
        self.retention: RetentionService | None = None
        # Records expired reservations as released and warns holders before expiry.
        self.reservation_sweeper: ReservationSweeper | None = None
        self._retention_now = retention_now
        self._retention_batch = retention_batch
        self._keepalive = keepalive
        # The TLS certificate in service and its reloader (None without TLS).
        self.certificates: ReloadingCertificates | None = None
        self._lock = None if worker else DataFolderLock(config.data_dir)
        self._storage: Storage | None = None
        # The use cases (None until started); tests reach the presence flusher through it.
        self.services: Services | None = None
        self._endpoint: GrpcEndpoint | None = None
        self._exporter: MetricsExporter | None = None

    async def start(self) -> None:
        """Open storage, bind the port and start serving.

        Raises:
            RuntimeError: the data folder is in use by another server, its cursor key is
                unreadable or corrupt, a port is taken, or the archive cannot be opened.
                Nothing is left running.
            CertificateError: TLS is configured but its files cannot be used.
        """
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        if self._lock is not None:
            self._lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.stop(grace=0)
            raise
        logger.info("agentmail listening on %s (data in %s)", self.address, config.data_dir)

    async def _start(self) -> None:
        config = self.config
        # Before the storage: a database that exists already tells a lost key from a new one.
        key = await asyncio.to_thread(
            cursor_key.load_or_create, config.data_dir, config.database_path
        )
        self._storage = storage = await open_storage(config)
        shared = await storage.shared_cursor_key(key)
        if shared != key:
            logger.info(
                "cursors are sealed with the database's cursor key (every server on it shares"
                " that key); %s in the data folder is not used",
                cursor_key.KEY_FILE,
            )
            key = shared
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
        try:
            stored_operators = await asyncio.to_thread(
                operator_tokens.read_hashes, config.operator_tokens_path
            )
        except (OSError, operator_tokens.OperatorTokenFileError) as exc:
            raise RuntimeError(f"could not read the operator tokens: {exc}") from exc
        self.services = services = build_services(
            storage,
            self.hub,
            config,
            CursorCodec(key),
            self.clock,
            operator_hashes=(*config.operator_hashes, *stored_operators),
        )
        bindings = service_bindings(services)
        rpc_metrics = RpcMetrics() if config.metrics_enabled else None
        admission = Admission(config, services.auth.cache, monotonic_seconds(self.clock))
        self._endpoint = endpoint = GrpcEndpoint(
            bindings, config, rpc_metrics, self._keepalive, admission
        )
        storage.watch_writes(_HealthFollower(endpoint).writes_changed)
        port = listen_credentials(config)
        self.certificates = port.certificates
        self.address = endpoint.bind(config.listen, port.credentials)
        _log_security(config, port)
        # A Unix-domain socket has no port.
        self.port = 0 if is_unix_socket(self.address) else int(self.address.rpartition(":")[2])
        if rpc_metrics is not None:
            self._start_metrics(rpc_metrics, [b.descriptor for b in bindings], services)
        await endpoint.start()
        services.presence.start()
        if config.retention_days:
            self.retention = RetentionService(
                storage.retention,
                config.retention_days,
                now=self._retention_now or self.clock.now_micros,
                batch=self._retention_batch,
            )
            self.retention.start()
        self.reservation_sweeper = ReservationSweeper(
            storage.reservations,
            self.clock,
            interval_seconds=config.reservation_sweep_seconds,
            warning_seconds=config.reservation_expiry_warning_seconds,
        )
        self.reservation_sweeper.start()

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
                self.certificates.stats if self.certificates is not None else None,
            )
        except OSError as exc:
            raise RuntimeError(f"could not bind {self.config.metrics_listen}: {exc}") from exc
        self.metrics_port = self._exporter.port
        logger.info("metrics on %s", self._exporter.url)

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving: refuse new calls, let in-flight ones finish within the grace period,
        then drain the write queue and close storage."""
        grace = self.config.grace_seconds if grace is None else grace
        deadline = time.monotonic() + grace
        endpoint, self._endpoint = self._endpoint, None
        if endpoint is not None:
            # First, so that health checks and load balancers stop sending work here: every
            # health watcher is told before any stream learns of the shutdown.
            await endpoint.health.enter_graceful_shutdown()
            await endpoint.health.wait_told(deadline - time.monotonic())
        # End subscriptions ourselves, each with a final frame carrying its resume cursor and
        # then UNAVAILABLE, while gRPC still runs: stopping gRPC first cancels them instead.
        self.hub.close()
        if endpoint is not None:
            quiet = min(SHUTDOWN_QUIET_SECONDS, grace)
            await self.hub.wait_quiet(quiet, deadline - time.monotonic())
            endpoint.health.end_watches()
            # Unary calls still in flight finish within what is left of the grace period.
            await endpoint.server.stop(max(0.0, deadline - time.monotonic()))
            # stop() may return before cancelled handlers' finally blocks have run.
            await asyncio.sleep(0)
        if self._exporter is not None:
            await self._exporter.stop()
            self._exporter = None
        if self.retention is not None:
            await self.retention.stop()  # before the storage closes under its purge
        if self.reservation_sweeper is not None:
            await self.reservation_sweeper.stop()
        if self.services is not None:
            # After the last call, before the storage closes: the final stamps are written.
            await self.services.presence.stop()
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
        if self._lock is not None:
            self._lock.release()
        logger.info("agentmail stopped")

    def writer_stats(self) -> WriterStats | None:
        """A snapshot of the storage's write queue and commits (None unless running)."""
        return None if self._storage is None else self._storage.writer_stats()

    async def wait_for_termination(self) -> None:
        """Wait until the gRPC server has stopped."""
        if self._endpoint is not None:
            await self._endpoint.server.wait_for_termination()


class _HealthFollower:
    """Turns the storage's write failures into health: NOT_SERVING while commits fail (reads
    still work, but a balancer should send writers elsewhere), SERVING once they work again.

    Health updates are coroutines and the storage calls back synchronously: one task at a time
    applies the newest state, so quick flips never apply out of order.
    """

    def __init__(self, endpoint: GrpcEndpoint) -> None:
        self._endpoint = endpoint
        self._failing = False
        self._applied = False
        self._task: asyncio.Task[None] | None = None

    def writes_changed(self, failure: Unavailable | None) -> None:
        """Storage listener: ``failure`` while commits fail, None once they work again."""
        if failure is not None:
            logger.error("writes fail (%s): reporting NOT_SERVING", failure.reason)
        self._failing = failure is not None
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._apply(), name="health-follower")

    async def _apply(self) -> None:
        while self._applied != self._failing:
            self._applied = failing = self._failing
            await self._endpoint.set_serving(not failing)


def _log_security(config: ServerConfig, port: ListenCredentials) -> None:
    """Say once what protects the port: a plaintext port others can reach gets a warning."""
    if port.security is ListenSecurity.PLAINTEXT:
        logger.warning(
            "serving plaintext on %s (--insecure): anyone who can reach it can read the "
            "traffic, tokens included; configure --tls-cert and --tls-key",
            config.listen,
        )
    elif port.certificates is not None:
        current = port.certificates.current
        logger.info(
            "TLS on%s: %s serial %x, valid until %s",
            " with client certificates required"
            if port.security is ListenSecurity.MUTUAL_TLS
            else "",
            current.subject,
            current.serial,
            current.not_after,
        )


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
