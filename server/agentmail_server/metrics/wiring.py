"""Starting the ``/metrics`` endpoint over a running server's components."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from google.protobuf.descriptor import ServiceDescriptor

from agentmail_server.hub import Hub
from agentmail_server.metrics.collector import AgentmailCollector, MetricSources, SendCounter
from agentmail_server.metrics.exporter import MetricsExporter, build_registry
from agentmail_server.metrics.families import ArchiveProgress, CertificateProgress
from agentmail_server.metrics.grpc_metrics import RpcMetrics
from agentmail_server.services.container import Services
from agentmail_server.storage.ports import Storage


def start_exporter(
    listen: str,
    rpc_metrics: RpcMetrics,
    descriptors: Iterable[ServiceDescriptor],
    storage: Storage,
    hub: Hub,
    services: Services,
    archive_stats: Callable[[], ArchiveProgress] | None,
    tls_stats: Callable[[], CertificateProgress] | None = None,
) -> MetricsExporter:
    """Serve ``/metrics`` on ``listen``: calls, committed sends and every component's stats.

    Every method of ``descriptors`` gets its series at zero before its first call.

    Raises:
        OSError: the address could not be bound.
    """
    rpc_metrics.register_services(descriptors)
    sends = SendCounter()
    storage.feed.subscribe(sends)
    sources = MetricSources(
        rpc=rpc_metrics.stats,
        sends=sends.stats,
        writer=storage.writer_stats,
        hub=hub.stats,
        read_pool=storage.read_pool_stats,
        caches=(
            ("tokens", services.auth.cache.stats),
            ("recipients", services.resolver.cache.stats),
            ("projects", services.directory.projects.stats),
        ),
        database_files=storage.database_files,
        archive=archive_stats,
        tls=tls_stats,
    )
    collector = AgentmailCollector(sources, asyncio.get_running_loop())
    exporter = MetricsExporter(listen, build_registry(collector))
    exporter.start()
    return exporter
