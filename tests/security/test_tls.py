"""TLS end to end: the typed client and raw stubs talk to a TLS server; a plaintext client,
or one that trusts another CA, is refused promptly with UNAVAILABLE."""

from __future__ import annotations

import asyncio
import pathlib
import time

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_client import AgentmailClient, ChannelConfig, TlsConfig

from ._pki import Issued, Pki

# A refused connection must fail well before this: the test asserts UNAVAILABLE, not a
# deadline, so a client left waiting on a TLS port would fail the test, not hang it.
DEADLINE_SECONDS = 10


def tls_settings(server_cert: Issued) -> dict[str, str]:
    """ServerConfig settings serving ``server_cert`` over TLS."""
    return {"tls_cert": str(server_cert.cert_path), "tls_key": str(server_cert.key_path)}


async def test_the_typed_client_sends_and_subscribes_over_tls(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    tls = TlsConfig(root_certificates=ca.cert_path)
    async with (
        start_server(tmp_path / "data", **tls_settings(server_cert)) as server,
        AgentmailClient(server.address, channel=ChannelConfig(tls=tls)) as client,
    ):
        slug = (await client.ensure_project("/srv/tls")).project.slug
        alice, bob = client.with_token(None), client.with_token(None)
        await alice.register_agent(slug, "Alice")
        await bob.register_agent(slug, "Bob")
        async with bob.subscribe() as inbox:
            # Without a cursor the stream delivers what commits after it reaches the server:
            # wait until it has (its first heartbeat), or the send may come first.
            await asyncio.wait_for(inbox.caught_up.wait(), DEADLINE_SECONDS)
            sent = await alice.send_message(to="Bob", subject="over TLS", body="sealed")
            item = await asyncio.wait_for(anext(aiter(inbox)), DEADLINE_SECONDS)

    assert item.message.id == sent.message.id
    assert item.message.body == "sealed"


async def test_raw_stubs_work_with_the_ca_as_root(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with (
        start_server(tmp_path / "data", **tls_settings(server_cert)) as server,
        grpc.aio.secure_channel(server.address, credentials) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/srv/raw"))).project
        token = (
            await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug.slug, name="Ann"))
        ).agent_token
        page = await mail.ListInbox(
            mpb.ListInboxRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )

    assert list(page.items) == []


async def test_a_plaintext_client_is_refused_with_unavailable_not_left_hanging(
    tmp_path: pathlib.Path, start_server, server_cert: Issued, expect_unavailable
) -> None:
    async with (
        start_server(tmp_path / "data", **tls_settings(server_cert)) as server,
        grpc.aio.insecure_channel(server.address) as channel,
    ):
        await expect_unavailable(channel)


async def test_a_client_trusting_another_ca_is_refused(
    tmp_path: pathlib.Path, start_server, pki: Pki, server_cert: Issued, expect_unavailable
) -> None:
    stranger = pki.ca("another CA")
    credentials = grpc.ssl_channel_credentials(root_certificates=stranger.cert_pem)
    async with (
        start_server(tmp_path / "data", **tls_settings(server_cert)) as server,
        grpc.aio.secure_channel(server.address, credentials) as channel,
    ):
        details = await expect_unavailable(channel)

    assert "CERTIFICATE_VERIFY_FAILED" in details


async def test_a_name_the_certificate_does_not_carry_is_refused_unless_overridden(
    tmp_path: pathlib.Path, start_server, pki: Pki, ca: Issued, expect_unavailable
) -> None:
    elsewhere = pki.issue(ca, "agentmail.test", dns=("agentmail.test",))  # no 127.0.0.1
    settings = tls_settings(elsewhere)
    async with start_server(tmp_path / "data", **settings) as server:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
        async with grpc.aio.secure_channel(server.address, credentials) as channel:
            await expect_unavailable(channel)
        tls = TlsConfig(root_certificates=ca.cert_pem, server_name_override="agentmail.test")
        async with AgentmailClient(server.address, channel=ChannelConfig(tls=tls)) as client:
            ensured = await client.ensure_project("/srv/named")

    assert ensured.created


async def test_the_health_service_answers_over_tls(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc  # noqa: PLC0415

    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with (
        start_server(tmp_path / "data", **tls_settings(server_cert)) as server,
        grpc.aio.secure_channel(server.address, credentials) as channel,
    ):
        started = time.monotonic()
        reply = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=DEADLINE_SECONDS
        )

    assert reply.status == health_pb2.HealthCheckResponse.SERVING
    assert time.monotonic() - started < DEADLINE_SECONDS


async def test_the_typed_client_reads_pem_bytes_and_takes_ready_made_credentials(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    from_bytes = ChannelConfig(tls=TlsConfig(root_certificates=ca.cert_pem))
    ready_made = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with start_server(tmp_path / "data", **tls_settings(server_cert)) as server:
        async with AgentmailClient(server.address, channel=from_bytes) as client:
            first = await client.ensure_project("/srv/bytes")
        async with AgentmailClient(server.address, credentials=ready_made) as client:
            again = await client.ensure_project("/srv/bytes")

    assert first.created and not again.created
