"""A small gRPC server that reports what :mod:`agentmail_server.rpc.context` makes of each
caller, served with the credentials the agentmail server would use for a configuration."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator

import grpc
from agentmail_server.config import ServerConfig
from agentmail_server.rpc.context import peer_identity, peer_transport
from agentmail_server.rpc.transport import listen_credentials

WHOAMI = "/agentmail.test.WhoAmI/Get"


async def _whoami(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
    identity = peer_identity(context)
    return json.dumps(
        {
            "transport": peer_transport(context).name,
            "identity": None if identity is None else identity.__dict__,
        }
    ).encode()


@contextlib.asynccontextmanager
async def whoami_server(config: ServerConfig) -> AsyncIterator[str]:
    """A gRPC server on ``config.listen`` with the credentials the agentmail server would use
    for ``config``, answering ``WHOAMI`` with JSON of ``peer_transport`` and
    ``peer_identity``; yields its address."""
    server = grpc.aio.server()
    handler = grpc.unary_unary_rpc_method_handler(_whoami)
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("agentmail.test.WhoAmI", {"Get": handler}),)
    )
    credentials = listen_credentials(config).credentials
    if credentials is None:
        port = server.add_insecure_port(config.listen)
    else:
        port = server.add_secure_port(config.listen, credentials)
    await server.start()
    try:
        host = config.listen.rpartition(":")[0]
        yield config.listen if config.listen.startswith("unix:") else f"{host}:{port}"
    finally:
        await server.stop(0)


async def ask_whoami(channel: grpc.aio.Channel) -> dict[str, object]:
    """What the ``whoami_server`` made of this channel's connection."""
    call = channel.unary_unary(WHOAMI)
    answer: bytes = await call(b"", timeout=10)
    result: dict[str, object] = json.loads(answer)
    return result
