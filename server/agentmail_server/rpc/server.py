"""The gRPC endpoint: services from one list, plus health and reflection (v1 and v1alpha)
derived from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc import aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from agentmail_server.config import ServerConfig
from agentmail_server.listen import is_unix_socket
from agentmail_server.rpc.admission import Admission
from agentmail_server.rpc.ceiling import add_ceiling_to_server
from agentmail_server.rpc.health import ShutdownHealth
from agentmail_server.rpc.interceptors import CallObserver, ErrorMappingInterceptor
from agentmail_server.rpc.keepalive import ServerKeepalive
from agentmail_server.rpc.reflection import enable_reflection

DEFAULT_KEEPALIVE = ServerKeepalive()


@dataclasses.dataclass(frozen=True)
class ServiceBinding:
    """One protobuf service: the servicer, its generated ``add_..._to_server`` function and
    the service's descriptor (from which its name is taken)."""

    servicer: Any
    register: Callable[[Any, aio.Server], None]
    descriptor: ServiceDescriptor

    @property
    def name(self) -> str:
        """The fully qualified service name, e.g. ``agentmail.v1.MailService``."""
        return self.descriptor.full_name


def channel_options(
    config: ServerConfig, keepalive: ServerKeepalive = DEFAULT_KEEPALIVE
) -> list[tuple[str, int]]:
    """gRPC server options: message limits, keepalive (see :mod:`.keepalive`), and no silent
    port sharing (except among the processes of one ``--workers``)."""
    return [
        ("grpc.max_receive_message_length", config.max_receive_bytes),
        ("grpc.max_send_message_length", config.max_send_bytes),
        # A second server on the same port must fail, not silently share it; the workers of
        # one --workers share it on purpose (the kernel spreads connections among them).
        ("grpc.so_reuseport", 1 if config.workers > 1 else 0),
        *keepalive.options(),
    ]


def health_descriptor() -> ServiceDescriptor:
    """The descriptor of ``grpc.health.v1.Health`` (served beside every binding)."""
    descriptor: ServiceDescriptor = health_pb2.DESCRIPTOR.services_by_name["Health"]
    return descriptor


class GrpcEndpoint:
    """An ``aio.Server`` with the bound services, health and reflection (not yet started).

    Args:
        bindings: the services to serve.
        config: message limits, keepalive, the ceiling endpoints and access log settings.
        observer: receives per-call statistics (the metrics), or None.
        keepalive: the keepalive and ping policy (tests shrink its intervals).
        admission: the per-caller rate limiter, or None for none.
    """

    def __init__(
        self,
        bindings: Sequence[ServiceBinding],
        config: ServerConfig,
        observer: CallObserver | None,
        keepalive: ServerKeepalive = DEFAULT_KEEPALIVE,
        admission: Admission | None = None,
    ) -> None:
        self.service_names = tuple(binding.name for binding in bindings)
        interceptor = ErrorMappingInterceptor(
            access_log=config.access_log, observer=observer, admission=admission
        )
        self.server = aio.server(
            interceptors=[interceptor],
            options=channel_options(config, keepalive),
        )
        for binding in bindings:
            binding.register(binding.servicer, self.server)
        if config.ceiling_endpoints:
            add_ceiling_to_server(self.server)
        self.health = ShutdownHealth()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        enable_reflection((*self.service_names, health.SERVICE_NAME), self.server)

    def bind(self, listen: str, credentials: grpc.ServerCredentials | None) -> str:
        """Bind ``listen`` (``host:port``, port 0 for any, or ``unix:PATH``) with
        ``credentials`` (None: plaintext) and return the address bound (``host:port``, or
        ``listen`` itself for a Unix-domain socket).

        Raises:
            RuntimeError: the address could not be bound (in use, or not this host's).
        """
        host, _, _ = listen.rpartition(":")
        try:
            if credentials is None:
                port = self.server.add_insecure_port(listen)
            else:
                port = self.server.add_secure_port(listen, credentials)
        except RuntimeError:
            # gRPC's own message only suggests GRPC_VERBOSITY; this one says what to fix.
            port = 0
        if port == 0:
            raise RuntimeError(
                f"could not listen on {listen}: the port is in use or the address is not "
                "this host's (--listen)"
            )
        return listen if is_unix_socket(listen) else f"{host}:{port}"

    async def start(self) -> None:
        """Start serving and report every service (and the server as a whole) SERVING."""
        await self.server.start()
        await self.set_serving(True)

    async def set_serving(self, serving: bool) -> None:
        """Report every service (and the server as a whole) SERVING or NOT_SERVING; no effect
        once the graceful shutdown has begun (it stays NOT_SERVING)."""
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in ("", *self.service_names):
            await self.health.set(name, status)
