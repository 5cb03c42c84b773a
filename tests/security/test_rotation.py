"""Certificate rotation without a restart: new connections get the new certificate once its
files change; a changed pair that cannot be used keeps the old one in service (with a warning
that shows no key material) until the files are right; open connections carry on."""

from __future__ import annotations

import asyncio
import logging
import os
import pathlib
import socket
import ssl

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc
from cryptography import x509

from ._pki import Issued, Pki


def _served_serial(address: str, ca_file: pathlib.Path) -> int:
    """Open a new TLS connection to ``address`` and return the serial of the certificate the
    server presents (blocking: run it in a thread)."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context(cafile=str(ca_file))
    context.set_alpn_protocols(["h2"])
    with (
        socket.create_connection((host, int(port)), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


async def served_serial(address: str, ca: Issued) -> int:
    """The serial a new connection to ``address`` sees."""
    return await asyncio.to_thread(_served_serial, address, ca.cert_path)


def install(source: Issued, cert_path: pathlib.Path, key_path: pathlib.Path) -> None:
    """Put ``source``'s certificate and key in place the way renewal tools do: each file
    written beside its target, then renamed over it."""
    for data, target in ((source.cert_pem, cert_path), (source.key_pem, key_path)):
        staged = target.with_suffix(".new")
        staged.write_bytes(data)
        os.replace(staged, target)


async def ensure(channel: grpc.aio.Channel, key: str) -> bool:
    stub = agent_service_pb2_grpc.AgentServiceStub(channel)
    reply = await stub.EnsureProject(apb.EnsureProjectRequest(human_key=key), timeout=10)
    return bool(reply.created)


@pytest.fixture
def live_files(tmp_path: pathlib.Path, server_cert: Issued) -> tuple[pathlib.Path, pathlib.Path]:
    """The paths the server is configured with, holding ``server_cert`` at first."""
    folder = tmp_path / "live"
    folder.mkdir()
    cert_path, key_path = folder / "server.pem", folder / "server-key.pem"
    install(server_cert, cert_path, key_path)
    return cert_path, key_path


async def test_new_connections_see_the_new_certificate_without_a_restart(
    tmp_path: pathlib.Path, start_server, pki: Pki, ca: Issued, server_cert: Issued, live_files
) -> None:
    cert_path, key_path = live_files
    renewed = pki.server(ca, file_name="renewed")
    credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
    async with start_server(
        tmp_path / "data", tls_cert=str(cert_path), tls_key=str(key_path)
    ) as server:
        assert await served_serial(server.address, ca) == server_cert.serial
        async with grpc.aio.secure_channel(server.address, credentials) as before:
            assert await ensure(before, "/before")

            install(renewed, cert_path, key_path)

            assert await served_serial(server.address, ca) == renewed.serial
            # The connection made before the rotation carries on.
            assert not await ensure(before, "/before")
        async with grpc.aio.secure_channel(server.address, credentials) as after:
            assert await ensure(after, "/after")
        stats = server.certificates.stats()

    assert (stats.reloads, stats.rejected, stats.serial) == (1, 0, renewed.serial)


async def test_a_half_rotated_pair_keeps_the_old_certificate_until_the_key_arrives(
    tmp_path: pathlib.Path,
    start_server,
    pki: Pki,
    ca: Issued,
    server_cert: Issued,
    live_files,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cert_path, key_path = live_files
    renewed = pki.server(ca, file_name="renewed")
    caplog.set_level(logging.INFO, logger="agentmail_server.rpc.certificates")
    async with start_server(
        tmp_path / "data", tls_cert=str(cert_path), tls_key=str(key_path)
    ) as server:
        # The new certificate is in place, its key not yet: still the old pair.
        os.replace(_staged(cert_path, renewed.cert_pem), cert_path)
        assert await served_serial(server.address, ca) == server_cert.serial
        # A connection on unchanged (still broken) files does not warn again.
        assert await served_serial(server.address, ca) == server_cert.serial

        os.replace(_staged(key_path, renewed.key_pem), key_path)
        assert await served_serial(server.address, ca) == renewed.serial
        stats = server.certificates.stats()

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, caplog.text
    assert "is not the key of the certificate" in warnings[0].getMessage()
    assert f"serial {server_cert.serial:x}" in warnings[0].getMessage()
    assert "PRIVATE KEY" not in caplog.text
    assert (stats.reloads, stats.rejected) == (1, 1)


async def test_an_unreadable_or_garbled_file_keeps_the_old_certificate(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued, live_files
) -> None:
    cert_path, key_path = live_files
    async with start_server(
        tmp_path / "data", tls_cert=str(cert_path), tls_key=str(key_path)
    ) as server:
        os.replace(_staged(key_path, b"-----BEGIN PRIVATE KEY-----\ngarbage\n"), key_path)
        assert await served_serial(server.address, ca) == server_cert.serial
        key_path.unlink()
        assert await served_serial(server.address, ca) == server_cert.serial
        stats = server.certificates.stats()

    assert (stats.reloads, stats.rejected) == (0, 2)


def _staged(target: pathlib.Path, data: bytes) -> pathlib.Path:
    staged = target.with_suffix(".new")
    staged.write_bytes(data)
    return staged
