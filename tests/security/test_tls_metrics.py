"""The TLS certificate on /metrics: its expiry (for an alert well before it), and its
rotations (taken and refused); nothing of it without TLS."""

from __future__ import annotations

import asyncio
import os
import pathlib
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from ._pki import Issued, Pki

EXPIRY = "agentmail_tls_certificate_expiry_timestamp_seconds"


def _fetch(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("agentmail_tls_")
    }


async def tls_samples(server: object) -> dict[str, float]:
    """The server's agentmail_tls_* samples, scraped from another thread."""
    url = f"http://127.0.0.1:{server.metrics_port}/metrics"  # type: ignore[attr-defined]
    return await asyncio.to_thread(_fetch, url)


async def test_expiry_and_rotations_are_exported(
    tmp_path: pathlib.Path, start_server, pki: Pki, ca: Issued, server_cert: Issued
) -> None:
    live_cert, live_key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    live_cert.write_bytes(server_cert.cert_pem)
    live_key.write_bytes(server_cert.key_pem)
    renewed = pki.server(ca, file_name="renewed")
    settings = {"tls_cert": str(live_cert), "tls_key": str(live_key)}
    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0", **settings) as server:
        before = await tls_samples(server)
        os.replace(_staged(live_cert, renewed.cert_pem), live_cert)  # its key not yet there
        server.certificates.fetch()  # what gRPC does before a handshake
        os.replace(_staged(live_key, renewed.key_pem), live_key)
        server.certificates.fetch()
        after = await tls_samples(server)

    assert before == {
        EXPIRY: server_cert.certificate.not_valid_after_utc.timestamp(),
        "agentmail_tls_certificate_reloads_total": 0.0,
        "agentmail_tls_certificate_rejected_total": 0.0,
    }
    assert after == {
        EXPIRY: renewed.certificate.not_valid_after_utc.timestamp(),
        "agentmail_tls_certificate_reloads_total": 1.0,
        "agentmail_tls_certificate_rejected_total": 1.0,
    }


async def test_nothing_about_tls_without_it(tmp_path: pathlib.Path, start_server) -> None:
    async with start_server(tmp_path / "data", metrics_listen="127.0.0.1:0") as server:
        assert await tls_samples(server) == {}


def _staged(target: pathlib.Path, data: bytes) -> pathlib.Path:
    staged = target.with_suffix(".new")
    staged.write_bytes(data)
    return staged
