"""Fixtures of the transport security tests: a throwaway PKI, and a small server that reports
what :mod:`agentmail_server.rpc.context` makes of each caller."""

from __future__ import annotations

import contextlib
import json
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from agentmail_server.config import ServerConfig
from agentmail_server.rpc.context import peer_identity, peer_transport
from agentmail_server.rpc.transport import listen_credentials

from ._pki import Issued, Pki

WHOAMI = "/agentmail.test.WhoAmI/Get"


@pytest.fixture
def pki(tmp_path: pathlib.Path) -> Pki:
    """CAs and certificates as files under the test's temporary folder."""
    return Pki(tmp_path / "pki")


@pytest.fixture
def ca(pki: Pki) -> Issued:
    """The CA that signs the server's and the good clients' certificates."""
    return pki.ca("agentmail test CA")


@pytest.fixture
def server_cert(pki: Pki, ca: Issued) -> Issued:
    """The server's certificate (for localhost and 127.0.0.1), signed by ``ca``."""
    return pki.server(ca)


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


@pytest.fixture(name="whoami_server")
def whoami_server_fixture() -> Callable[
    [ServerConfig], contextlib.AbstractAsyncContextManager[str]
]:
    """``async with whoami_server(config) as address``."""
    return whoami_server


async def _expect_unavailable(channel: grpc.aio.Channel) -> str:
    """Make a call on ``channel`` with a deadline; assert it fails with UNAVAILABLE (refused)
    rather than DEADLINE_EXCEEDED (left hanging), and return the error's details."""
    from agentmail.v1 import agent_service_pb2, agent_service_pb2_grpc  # noqa: PLC0415

    stub = agent_service_pb2_grpc.AgentServiceStub(channel)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key="/x"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE, caught.value
    return caught.value.details() or ""


@pytest.fixture(name="expect_unavailable")
def expect_unavailable_fixture() -> Callable[[grpc.aio.Channel], Any]:
    """``await expect_unavailable(channel)``: the connection is refused, promptly."""
    return _expect_unavailable
