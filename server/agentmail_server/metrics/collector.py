"""The Prometheus collector over the components' ``stats()`` snapshots.

Nothing in the request path touches Prometheus objects: the components keep their own plain
counters and expose frozen ``stats()`` snapshots, and this collector reads them when Prometheus
scrapes. Those components belong to the event loop, while the HTTP endpoint serves scrapes from
its own threads, so the collector takes every snapshot in one callback on the loop (a consistent
view, and no data structure is read while the loop changes it) and renders the families on the
scrape thread. Database file sizes are read at scrape time with ``os.stat``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import logging
import os
import pathlib
from collections.abc import Callable, Iterator

from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from agentmail_server.domain.events import Commit
from agentmail_server.hub import HubStats
from agentmail_server.metrics import families
from agentmail_server.metrics.families import ArchiveProgress, CertificateProgress, SendStats
from agentmail_server.metrics.grpc_metrics import MethodSnapshot
from agentmail_server.services.cache import CacheStats
from agentmail_server.storage.stats import ReadPoolStats, WriterStats

logger = logging.getLogger(__name__)


class SendCounter:
    """A commit-feed listener that counts committed sends and their deliveries.

    Subscribe it to the storage's commit feed; it runs on the loop after each commit.
    """

    def __init__(self) -> None:
        self._messages = 0
        self._recipients = 0
        self._deduplicated = 0

    def __call__(self, commit: Commit) -> None:
        """Count the sends of one commit (another process's are its own to count)."""
        if commit.remote:
            return
        self._deduplicated += commit.deduplicated_sends
        self._messages += len(commit.messages)
        for sent in commit.messages:
            self._recipients += len(sent.recipients)

    def stats(self) -> SendStats:
        """A snapshot of the counts."""
        return SendStats(self._messages, self._recipients, self._deduplicated)


@dataclasses.dataclass(frozen=True)
class MetricSources:
    """Where the collector reads from: each component's ``stats()`` and the database files.

    Attributes:
        rpc: per-method call statistics (``RpcMetrics.stats``).
        sends: committed sends (``SendCounter.stats``).
        writer: the storage's write queue (``Storage.writer_stats``).
        hub: the subscription hub (``Hub.stats``).
        read_pool: the storage's read connections (``Storage.read_pool_stats``).
        caches: ``(name, stats)`` of each LRU cache; the names become label values.
        database_files: ``(name, path)`` of files whose size to export; a missing file is 0.
        archive: the archive's progress, once there is an archive; None exports nothing.
        tls: the TLS certificate's stats, when the server speaks TLS; None exports nothing.
    """

    rpc: Callable[[], tuple[MethodSnapshot, ...]]
    sends: Callable[[], SendStats]
    writer: Callable[[], WriterStats]
    hub: Callable[[], HubStats]
    read_pool: Callable[[], ReadPoolStats]
    caches: tuple[tuple[str, Callable[[], CacheStats]], ...] = ()
    database_files: tuple[tuple[str, pathlib.Path], ...] = ()
    archive: Callable[[], ArchiveProgress] | None = None
    tls: Callable[[], CertificateProgress] | None = None


@dataclasses.dataclass(frozen=True)
class ServiceSnapshot:
    """Every component's stats, taken together on the event loop."""

    rpc: tuple[MethodSnapshot, ...]
    sends: SendStats
    writer: WriterStats
    hub: HubStats
    read_pool: ReadPoolStats
    caches: tuple[tuple[str, CacheStats], ...]
    archive: ArchiveProgress | None
    tls: CertificateProgress | None


class AgentmailCollector(Collector):
    """Renders agentmail's snapshots as metric families on each scrape.

    Args:
        sources: what to read.
        loop: the event loop that owns the components.
        timeout: how long a scrape waits for the loop; past it, the scrape carries only the
            process and database-size metrics (and a warning is logged).
    """

    def __init__(
        self,
        sources: MetricSources,
        loop: asyncio.AbstractEventLoop,
        timeout: float = 5.0,
    ) -> None:
        self._sources = sources
        self._loop = loop
        self._timeout = timeout

    def snapshot(self) -> ServiceSnapshot:
        """Read every component's stats; call it on the event loop."""
        sources = self._sources
        return ServiceSnapshot(
            rpc=sources.rpc(),
            sends=sources.sends(),
            writer=sources.writer(),
            hub=sources.hub(),
            read_pool=sources.read_pool(),
            caches=tuple((name, stats()) for name, stats in sources.caches),
            archive=sources.archive() if sources.archive is not None else None,
            tls=sources.tls() if sources.tls is not None else None,
        )

    def _snapshot_from_any_thread(self) -> ServiceSnapshot | None:
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            return self.snapshot()
        result: concurrent.futures.Future[ServiceSnapshot] = concurrent.futures.Future()

        def take() -> None:
            if not result.set_running_or_notify_cancel():
                return
            try:
                result.set_result(self.snapshot())
            except Exception as exc:
                result.set_exception(exc)

        try:
            self._loop.call_soon_threadsafe(take)
            return result.result(self._timeout)
        except RuntimeError:  # the loop is closed: the server has gone
            return None
        except concurrent.futures.TimeoutError:
            result.cancel()
            logger.warning("metrics scrape: the event loop did not answer in %.1fs", self._timeout)
            return None

    def _file_sizes(self) -> list[tuple[str, int]]:
        sizes = []
        for name, path in self._sources.database_files:
            try:
                sizes.append((name, os.stat(path).st_size))
            except FileNotFoundError:
                sizes.append((name, 0))
        return sizes

    def collect(self) -> Iterator[Metric]:
        """Yield every family (called by prometheus-client on a scrape thread)."""
        snapshot = self._snapshot_from_any_thread()
        if snapshot is not None:
            yield from families.grpc_families(snapshot.rpc)
            yield from families.send_families(snapshot.sends)
            yield from families.writer_families(snapshot.writer)
            yield from families.hub_families(snapshot.hub)
            yield from families.read_pool_families(snapshot.read_pool)
            yield from families.cache_families(snapshot.caches)
            if snapshot.archive is not None:
                yield from families.archive_families(snapshot.archive)
            if snapshot.tls is not None:
                yield from families.tls_families(snapshot.tls)
        yield from families.database_families(self._file_sizes())
