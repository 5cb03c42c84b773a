"""Composition root: builds the components, starts them in order and stops them in reverse."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
from typing import IO

from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    search_service_pb2,
    search_service_pb2_grpc,
)
from google.protobuf import descriptor_pool
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from agentmail_server.archive import ArchiveProjector, ArchiveSettings
from agentmail_server.config import ServerConfig
from agentmail_server.hub import Hub
from agentmail_server.metrics import (
    AgentmailCollector,
    MetricsExporter,
    MetricSources,
    RpcMetrics,
    SendCounter,
    build_registry,
)
from agentmail_server.rpc.agent_servicer import AgentServicer
from agentmail_server.rpc.ceiling import add_ceiling_to_server
from agentmail_server.rpc.interceptors import ErrorMappingInterceptor
from agentmail_server.rpc.mail_servicer import MailServicer
from agentmail_server.rpc.search_servicer import SearchServicer
from agentmail_server.services.agents import AgentDirectory
from agentmail_server.services.auth import Authenticator
from agentmail_server.services.mail import Mailer
from agentmail_server.services.recipients import RecipientResolver
from agentmail_server.services.search import Searcher
from agentmail_server.services.subscriptions import InboxStreamer
from agentmail_server.storage.queries import Queries
from agentmail_server.storage.readers import ReadPool
from agentmail_server.storage.search import SearchQueries
from agentmail_server.storage.writer import Writer

logger = logging.getLogger(__name__)

SERVICE_NAMES = (
    agent_service_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name,
    mail_service_pb2.DESCRIPTOR.services_by_name["MailService"].full_name,
    search_service_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name,
)


def channel_options(config: ServerConfig) -> list[tuple[str, int]]:
    """gRPC server options: message limits, keepalive, and no silent port sharing."""
    return [
        ("grpc.max_receive_message_length", config.max_receive_bytes),
        ("grpc.max_send_message_length", config.max_send_bytes),
        # A second server on the same port must fail, not silently share it.
        ("grpc.so_reuseport", 0),
        # Ping idle connections so dead peers (and their subscriptions) are noticed.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        # Clients may ping every 10 s or slower (client keepalive_time must be >= this).
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    ]


class AgentmailServer:
    """One running agentmail server: storage, services and the gRPC endpoint."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.port = 0
        self.address = ""
        self._lock_file: IO[str] | None = None
        self._writer: Writer | None = None
        self._pool: ReadPool | None = None
        self._server: aio.Server | None = None
        self._health: health.aio.HealthServicer | None = None
        self._exporter: MetricsExporter | None = None
        self.metrics_port = 0
        self.hub = Hub(config.subscriber_buffer, config.max_subscriptions)
        # The git archive's projector (None when the archive is off); kept after stop() so its
        # final stats() stay readable.
        self.archive: ArchiveProjector | None = None

    async def start(self) -> None:
        """Open storage, bind the port and start serving.

        Raises:
            RuntimeError: the data folder is in use by another server, or a port is taken.
        """
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock_data_dir()
        self._writer = Writer(
            config.database_path,
            config.sqlite_synchronous,
            config.writer_queue_size,
            config.writer_max_batch,
        )
        await self._writer.start()
        self._pool = ReadPool(config.database_path, config.read_pool_size)
        await self._pool.start()
        if config.archive:
            await self._start_archive()

        queries = Queries(self._pool)
        auth = Authenticator(queries, config.cache_size)
        directory = AgentDirectory(self._writer, queries, auth, config.cache_size)
        resolver = RecipientResolver(queries, config.cache_size)
        mailer = Mailer(self._writer, queries, resolver)
        self.hub = Hub(config.subscriber_buffer, config.max_subscriptions)
        self._writer.add_commit_listener(self.hub.publish)
        streamer = InboxStreamer(self.hub, queries, config.heartbeat_seconds)

        rpc_metrics = RpcMetrics() if config.metrics_enabled else None
        server = aio.server(
            interceptors=[ErrorMappingInterceptor(log_calls=True, observer=rpc_metrics)],
            options=channel_options(config),
        )
        agent_service_pb2_grpc.add_AgentServiceServicer_to_server(
            AgentServicer(directory, auth), server
        )
        mail_service_pb2_grpc.add_MailServiceServicer_to_server(
            MailServicer(mailer, streamer, auth), server
        )
        searcher = Searcher(SearchQueries(self._pool), queries)
        search_service_pb2_grpc.add_SearchServiceServicer_to_server(
            SearchServicer(searcher, auth), server
        )
        if config.ceiling_endpoints:
            add_ceiling_to_server(server)
        self._health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self._health, server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        host, _, _ = config.listen.rpartition(":")
        self.port = server.add_insecure_port(config.listen)
        if self.port == 0:
            raise RuntimeError(f"could not bind {config.listen}")
        self.address = f"{host}:{self.port}"
        if rpc_metrics is not None:
            try:
                self._start_metrics(rpc_metrics, auth, resolver, directory)
            except OSError as exc:
                await server.stop(None)
                await self.stop(grace=0)
                raise RuntimeError(f"could not bind {config.metrics_listen}: {exc}") from exc
        self._server = server
        await server.start()
        for name in ("", *SERVICE_NAMES):
            await self._health.set(name, health_pb2.HealthCheckResponse.SERVING)
        logger.info("agentmail listening on %s (data in %s)", self.address, config.data_dir)

    def _start_metrics(
        self,
        rpc_metrics: RpcMetrics,
        auth: Authenticator,
        resolver: RecipientResolver,
        directory: AgentDirectory,
    ) -> None:
        """Serve /metrics: call statistics, committed sends and every component's stats()."""
        assert self._writer is not None and self._pool is not None
        pool = descriptor_pool.Default()
        rpc_metrics.register_services(
            pool.FindServiceByName(name) for name in (*SERVICE_NAMES, health.SERVICE_NAME)
        )
        sends = SendCounter()
        self._writer.add_commit_listener(sends)
        database = self.config.database_path
        sources = MetricSources(
            rpc=rpc_metrics.stats,
            sends=sends.stats,
            writer=self._writer.stats,
            hub=self.hub.stats,
            read_pool=self._pool.stats,
            caches=(
                ("tokens", auth.cache.stats),
                ("recipients", resolver.cache.stats),
                ("projects", directory.projects.stats),
            ),
            database_files=(
                ("main", database),
                ("wal", database.with_name(database.name + "-wal")),
            ),
            archive=self.archive.stats if self.archive is not None else None,
        )
        collector = AgentmailCollector(sources, asyncio.get_running_loop())
        exporter = MetricsExporter(self.config.metrics_listen, build_registry(collector))
        exporter.start()
        self._exporter = exporter
        self.metrics_port = exporter.port
        logger.info("metrics on %s", exporter.url)

    async def _start_archive(self) -> None:
        """Start the git archive's projector; the writer's commits wake it."""
        assert self._writer is not None
        config = self.config
        self.archive = ArchiveProjector(
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
        try:
            await self.archive.start()
        except Exception as exc:  # pygit2.GitError included: report it as a start failure
            await self.stop(grace=0)
            raise RuntimeError(f"could not open the archive {config.archive_path}: {exc}") from exc
        self._writer.add_commit_listener(self.archive.notify)

    def _lock_data_dir(self) -> None:
        # Two servers on one database would each think they are the single writer.
        lock_file = open(self.config.data_dir / "agentmail.lock", "a+")  # noqa: SIM115
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise RuntimeError(
                f"data folder {self.config.data_dir} is in use by another agentmail server"
            ) from None
        lock_file.seek(0)
        lock_file.truncate()
        lock_file.write(f"{os.getpid()}\n")
        lock_file.flush()
        self._lock_file = lock_file

    async def stop(self, grace: float | None = None) -> None:
        """Stop serving: refuse new calls, let in-flight ones finish within the grace period,
        then drain the write queue and close storage."""
        grace = self.config.grace_seconds if grace is None else grace
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        # End subscriptions ourselves, with UNAVAILABLE and a retry hint, before the server
        # stops: otherwise they are cancelled at the end of the grace period.
        self.hub.close()
        await self.hub.wait_drained(grace)
        if self._server is not None:
            await self._server.stop(grace)
            # stop() may return before cancelled handlers' finally blocks have run.
            await asyncio.sleep(0)
            self._server = None
        if self._exporter is not None:
            await self._exporter.stop()
            self._exporter = None
        if self._writer is not None:
            stats = self._writer.stats()
            logger.info(
                "writer committed %d operations in %d batches", stats.operations, stats.batches
            )
            await self._writer.close()
            self._writer = None
        if self.archive is not None:
            # After the writer, so that its last commits are archived too (within the grace).
            await self.archive.stop(grace)
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        if self._lock_file is not None:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None
        logger.info("agentmail stopped")

    async def wait_for_termination(self) -> None:
        """Wait until the gRPC server has stopped."""
        if self._server is not None:
            await self._server.wait_for_termination()
