"""Client certificates (mTLS): with ``tls_client_ca`` set, a client without a certificate or
with one from another CA is refused, a client with a certificate from the CA gets in, and the
certificate's identity reaches handlers through ``rpc.context.peer_identity``."""

from __future__ import annotations

import asyncio
import pathlib
import sys

import grpc
import pytest
from agentmail_client import AgentmailClient, ChannelConfig, TlsConfig, Unavailable
from agentmail_server.config import ServerConfig

from ._pki import Issued, Pki
from ._whoami import ask_whoami

QUICKSTART = pathlib.Path(__file__).resolve().parents[2] / "clients" / "examples" / "quickstart.py"


def mtls_settings(server_cert: Issued, client_ca: Issued) -> dict[str, str]:
    """ServerConfig settings serving ``server_cert`` and requiring client certificates."""
    return {
        "tls_cert": str(server_cert.cert_path),
        "tls_key": str(server_cert.key_path),
        "tls_client_ca": str(client_ca.cert_path),
    }


@pytest.fixture
def alice_cert(pki: Pki, ca: Issued) -> Issued:
    """A client certificate for "alice" from the server's client CA."""
    return pki.issue(
        ca,
        "alice",
        dns=("alice.agents.test",),
        uris=("spiffe://agentmail.test/agent/alice",),
        client=True,
    )


async def test_a_client_without_a_certificate_is_refused(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued, expect_unavailable
) -> None:
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with (
        start_server(tmp_path / "data", **mtls_settings(server_cert, ca)) as server,
        grpc.aio.secure_channel(server.address, credentials) as channel,
    ):
        await expect_unavailable(channel)


async def test_a_certificate_from_another_ca_is_refused(
    tmp_path: pathlib.Path,
    start_server,
    pki: Pki,
    ca: Issued,
    server_cert: Issued,
    expect_unavailable,
) -> None:
    mallory = pki.issue(pki.ca("rogue CA"), "alice", client=True, file_name="mallory")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert_pem,
        private_key=mallory.key_pem,
        certificate_chain=mallory.cert_pem,
    )
    async with (
        start_server(tmp_path / "data", **mtls_settings(server_cert, ca)) as server,
        grpc.aio.secure_channel(server.address, credentials) as channel,
    ):
        await expect_unavailable(channel)


async def test_the_typed_client_with_a_certificate_from_the_ca_gets_in(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued, alice_cert: Issued
) -> None:
    tls = TlsConfig(
        root_certificates=ca.cert_path,
        client_certificate=alice_cert.cert_path,
        client_key=alice_cert.key_path,
    )
    async with (
        start_server(tmp_path / "data", **mtls_settings(server_cert, ca)) as server,
        AgentmailClient(server.address, channel=ChannelConfig(tls=tls)) as client,
    ):
        ensured = await client.ensure_project("/srv/mtls")

    assert ensured.created


async def test_the_typed_client_without_its_certificate_raises_unavailable(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    tls = TlsConfig(root_certificates=ca.cert_path)
    async with (
        start_server(tmp_path / "data", **mtls_settings(server_cert, ca)) as server,
        AgentmailClient(server.address, channel=ChannelConfig(tls=tls)) as client,
    ):
        with pytest.raises(Unavailable):
            await client.ensure_project("/srv/mtls", timeout=10)


async def test_the_verified_certificate_identity_reaches_handlers(
    whoami_server, ca: Issued, server_cert: Issued, alice_cert: Issued
) -> None:
    config = ServerConfig(listen="127.0.0.1:0", **mtls_settings(server_cert, ca))
    credentials = grpc.ssl_channel_credentials(
        root_certificates=ca.cert_pem,
        private_key=alice_cert.key_pem,
        certificate_chain=alice_cert.cert_pem,
    )
    async with (
        whoami_server(config) as address,
        grpc.aio.secure_channel(address, credentials) as channel,
    ):
        seen = await ask_whoami(channel)

    assert seen == {
        "transport": "TLS",
        "identity": {
            "common_name": "alice",
            "subject": "CN=alice",
            "dns_names": ["alice.agents.test"],
            "uris": ["spiffe://agentmail.test/agent/alice"],
            "emails": [],
            "ip_addresses": [],
        },
    }


async def test_tls_without_client_certificates_reports_no_identity(
    whoami_server, ca: Issued, server_cert: Issued
) -> None:
    config = ServerConfig(
        listen="127.0.0.1:0", tls_cert=str(server_cert.cert_path), tls_key=str(server_cert.key_path)
    )
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with (
        whoami_server(config) as address,
        grpc.aio.secure_channel(address, credentials) as channel,
    ):
        seen = await ask_whoami(channel)

    assert seen == {"transport": "TLS", "identity": None}


@pytest.mark.parametrize(
    ("listen", "transport"),
    [("127.0.0.1:0", "LOCAL"), ("unix", "LOCAL"), ("0.0.0.0:0", "PLAINTEXT")],
)
async def test_without_tls_the_transport_says_local_or_plaintext(
    whoami_server, tmp_path: pathlib.Path, listen: str, transport: str
) -> None:
    if listen == "unix":
        listen = f"unix:{tmp_path / 'agentmail.sock'}"
    config = ServerConfig(listen=listen, insecure=listen.startswith("0.0.0.0"))
    async with whoami_server(config) as address:
        target = address.replace("0.0.0.0", "127.0.0.1")
        async with grpc.aio.insecure_channel(target) as channel:
            seen = await ask_whoami(channel)

    assert seen == {"transport": transport, "identity": None}


async def test_the_quickstart_example_runs_over_mtls(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued, alice_cert: Issued
) -> None:
    async with start_server(tmp_path / "data", **mtls_settings(server_cert, ca)) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-W",
            "error",
            str(QUICKSTART),
            server.address,
            "--ca",
            str(ca.cert_path),
            "--cert",
            str(alice_cert.cert_path),
            "--key",
            str(alice_cert.key_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, output.decode()
    assert b"Bob replied" in output
