"""The command over TLS and mTLS: ``--tls-roots`` (with a client certificate and key for mTLS)
reaches a server that requires them, by flags and by environment variables; without them the
command fails cleanly as unavailable (exit 6, one line, no traceback)."""

from __future__ import annotations

import pathlib
from typing import Any

from security._pki import Pki  # tests/ is on sys.path (pytest prepends the packages' root)

from .conftest import PROJECT_KEY, Cli


async def test_mtls_by_flags_and_by_environment(tmp_path: pathlib.Path, start_server: Any) -> None:
    pki = Pki(tmp_path / "pki")
    ca = pki.ca("cli test CA")
    server_cert = pki.server(ca)
    client = pki.issue(ca, "cli-user", client=True)
    settings = {
        "tls_cert": str(server_cert.cert_path),
        "tls_key": str(server_cert.key_path),
        "tls_client_ca": str(ca.cert_path),
    }
    async with start_server(tmp_path / "data", **settings) as server:
        cli = Cli(tmp_path / "home", server.address)
        flags = (
            "--tls-roots",
            str(ca.cert_path),
            "--tls-client-cert",
            str(client.cert_path),
            "--tls-client-key",
            str(client.key_path),
        )
        slug = (await cli.ok(*flags, "project", "ensure", PROJECT_KEY)).stdout.strip()
        await cli.ok(*flags, "--project", slug, "register", "Alice")
        environment = {
            "AGENTMAIL_TLS_ROOTS": str(ca.cert_path),
            "AGENTMAIL_TLS_CLIENT_CERT": str(client.cert_path),
            "AGENTMAIL_TLS_CLIENT_KEY": str(client.key_path),
        }
        await cli.ok("send", "--to", "Alice", "-s", "over mTLS", "sealed", env=environment)
        inbox = (await cli.ok("--json", "inbox", env=environment)).stdout
        assert "over mTLS" in inbox

        plaintext = await cli("whoami")
        without_certificate = await cli("--tls-roots", str(ca.cert_path), "whoami")

    for refused in (plaintext, without_certificate):
        assert refused.code == 6, refused
        assert "Traceback" not in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
