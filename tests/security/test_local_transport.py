"""Loopback and Unix-domain sockets stay easy: plaintext clients connect as before, a
``unix:`` address works end to end, and clients may use gRPC's local credentials to attach
call credentials (a bearer token), which gRPC refuses on a plain insecure channel."""

from __future__ import annotations

import pathlib
import tempfile
from collections.abc import Iterator

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import mail_service_pb2_grpc
from agentmail_client import AgentmailClient


@pytest.fixture
def socket_path() -> Iterator[pathlib.Path]:
    """A socket path short enough for AF_UNIX (108 bytes), unlike a deep tmp_path."""
    with tempfile.TemporaryDirectory(prefix="am-") as folder:
        yield pathlib.Path(folder) / "agentmail.sock"


async def test_a_unix_socket_serves_the_typed_client(
    tmp_path: pathlib.Path, start_server, socket_path: pathlib.Path
) -> None:
    listen = f"unix:{socket_path}"
    async with start_server(tmp_path / "data", listen=listen) as server:
        assert server.address == listen
        async with AgentmailClient(server.address) as client:
            slug = (await client.ensure_project("/srv/uds")).project.slug
            registered = await client.register_agent(slug, "Local")

    assert registered.created


async def test_local_credentials_carry_a_bearer_token_on_loopback(
    tmp_path: pathlib.Path, start_server
) -> None:
    async with start_server(tmp_path / "data") as server:
        async with AgentmailClient(server.address) as client:
            slug = (await client.ensure_project("/srv/local")).project.slug
            token = (await client.register_agent(slug, "Tok")).token
        credentials = grpc.composite_channel_credentials(
            grpc.local_channel_credentials(grpc.LocalConnectionType.LOCAL_TCP),
            grpc.access_token_call_credentials(token),
        )
        async with grpc.aio.secure_channel(server.address, credentials) as channel:
            page = await mail_service_pb2_grpc.MailServiceStub(channel).ListInbox(
                mpb.ListInboxRequest(), timeout=10
            )

    assert list(page.items) == []
