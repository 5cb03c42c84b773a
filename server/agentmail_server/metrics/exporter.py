"""The ``/metrics`` HTTP endpoint: a registry of our own, served from a background thread.

The registry is private to the server (not prometheus-client's global one), so two servers in
one process, as in the tests, never mix their metrics. It holds the agentmail collector plus
prometheus-client's process, platform and garbage-collector collectors.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    make_wsgi_app,
)
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.registry import Collector

# How often the serving thread checks for shutdown: stop() returns within about this long.
_POLL_SECONDS = 0.05


def build_registry(*collectors: Collector) -> CollectorRegistry:
    """A fresh registry with process, platform and GC metrics plus ``collectors``."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    for collector in collectors:
        registry.register(collector)
    return registry


def parse_listen(listen: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` for IPv6) -> ``(host, port)``.

    Raises:
        ValueError: no port, or a port that is not a number from 0 to 65535.
    """
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host:
        raise ValueError(f"expected host:port, got {listen!r}")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"the port of {listen!r} is not a number") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"the port of {listen!r} is out of range")
    return host.removeprefix("[").removesuffix("]"), port


class _QuietHandler(WSGIRequestHandler):
    """Logs nothing per scrape (the default writes a line to stderr for each request)."""

    def log_message(self, format: str, *args: Any) -> None:
        return


class MetricsExporter:
    """Serves ``registry`` at ``http://<listen>/metrics`` (any path answers) from a thread.

    Args:
        listen: ``host:port``; port 0 picks a free port (see :attr:`port`).
        registry: what to expose.
    """

    def __init__(self, listen: str, registry: CollectorRegistry) -> None:
        self._host, self._port = parse_listen(listen)
        self._registry = registry
        self._httpd: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (0 before :meth:`start`)."""
        return self._httpd.server_port if self._httpd is not None else 0

    @property
    def url(self) -> str:
        """The scrape URL."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        """Bind and start serving.

        Raises:
            OSError: the address cannot be bound (in use, or not local).
        """

        class Server(ThreadingWSGIServer):
            address_family = socket.AF_INET6 if ":" in self._host else socket.AF_INET

        httpd = make_server(
            self._host,
            self._port,
            make_wsgi_app(self._registry),
            Server,
            handler_class=_QuietHandler,
        )
        thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": _POLL_SECONDS},
            name="metrics-http",
            daemon=True,
        )
        thread.start()
        self._httpd, self._thread = httpd, thread

    async def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is None or thread is None:
            return
        # shutdown() waits for the serving loop to notice: keep that off the event loop, whose
        # thread a scrape in progress may be waiting on.
        await asyncio.to_thread(httpd.shutdown)
        httpd.server_close()
        await asyncio.to_thread(thread.join)
