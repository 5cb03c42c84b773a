"""Fixtures of the transport security tests: a throwaway PKI, a server that reports what
:mod:`agentmail_server.rpc.context` makes of each caller, and a check that a connection is
refused."""

from __future__ import annotations

import contextlib
import pathlib
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from agentmail_server.config import ServerConfig

from ._pki import Issued, Pki
from ._whoami import whoami_server


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
