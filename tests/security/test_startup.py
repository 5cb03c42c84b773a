"""Start-up of the real ``agentmail-server``: plaintext on an address other hosts can reach is
refused in one line with status 2 unless ``--insecure`` is given (then it starts and warns);
TLS needs no such flag; unusable TLS files stop the start with status 1."""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc

from ._pki import Issued, Pki

EXIT_DEADLINE_SECONDS = 60
EXIT_BAD_CONFIG = 2
EXIT_START_FAILED = 1


async def run_to_exit(data_dir: pathlib.Path, *flags: str) -> tuple[int, list[str]]:
    """Run ``python -m agentmail_server`` with ``flags`` until it exits by itself; returns
    its status and stderr lines (fails if it is still running after the deadline)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentmail_server",
        "--metrics-listen",
        "off",
        "--data-dir",
        str(data_dir),
        *flags,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")},
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), EXIT_DEADLINE_SECONDS)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, stderr.decode(errors="replace").splitlines()


@pytest.mark.parametrize("listen", ["0.0.0.0:0", "[::]:0", ":0", "192.168.1.20:7070"])
async def test_plaintext_on_a_reachable_address_is_refused_in_one_line(
    tmp_path: pathlib.Path, listen: str
) -> None:
    code, lines = await run_to_exit(tmp_path / "data", "--listen", listen)

    assert code == EXIT_BAD_CONFIG
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"agentmail-server: error: refusing to serve plaintext on {listen}")
    assert "--insecure" in lines[0]
    assert not (tmp_path / "data").exists(), "nothing may be created before the refusal"


async def test_insecure_starts_on_every_interface_and_warns(
    tmp_path: pathlib.Path, spawn_server
) -> None:
    async with spawn_server(tmp_path / "data", "--listen", "0.0.0.0:0", "--insecure") as running:
        port = running.address.rpartition(":")[2]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = agent_service_pb2_grpc.AgentServiceStub(channel)
            reply = await stub.EnsureProject(apb.EnsureProjectRequest(human_key="/x"), timeout=10)

    assert reply.created
    log = b"".join(running.log).decode()
    assert "WARNING" in log and "serving plaintext on 0.0.0.0:0 (--insecure)" in log, log


async def test_tls_on_every_interface_needs_no_insecure_flag(
    tmp_path: pathlib.Path, spawn_server, ca: Issued, server_cert: Issued
) -> None:
    flags = ("--listen", "0.0.0.0:0", "--tls-cert", str(server_cert.cert_path))
    flags += ("--tls-key", str(server_cert.key_path))
    async with spawn_server(tmp_path / "data", *flags) as running:
        port = running.address.rpartition(":")[2]
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem)
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            stub = agent_service_pb2_grpc.AgentServiceStub(channel)
            reply = await stub.EnsureProject(apb.EnsureProjectRequest(human_key="/x"), timeout=10)

    assert reply.created
    log = b"".join(running.log).decode()
    assert f"TLS on: CN=agentmail-server serial {server_cert.serial:x}" in log, log
    assert "WARNING" not in log, log


async def test_a_key_that_does_not_match_the_certificate_stops_the_start(
    tmp_path: pathlib.Path, pki: Pki, ca: Issued, server_cert: Issued
) -> None:
    other = pki.server(ca, file_name="other")
    code, lines = await run_to_exit(
        tmp_path / "data",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(server_cert.cert_path),
        "--tls-key",
        str(other.key_path),
    )

    assert code == EXIT_START_FAILED
    text = "\n".join(lines)
    assert "Traceback" not in text and "PRIVATE KEY" not in text, text
    assert "could not start: tls_key" in lines[-1] and "is not the key of" in lines[-1], text


async def test_a_missing_certificate_file_stops_the_start(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nowhere.pem"
    code, lines = await run_to_exit(
        tmp_path / "data",
        "--listen",
        "127.0.0.1:0",
        "--tls-cert",
        str(missing),
        "--tls-key",
        str(missing),
    )

    assert code == EXIT_START_FAILED
    assert f"could not start: tls_cert {missing}: No such file or directory" in lines[-1], lines


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (("--tls-cert", "a.pem"), "tls_cert and tls_key go together"),
        (("--tls-key", "a.pem"), "tls_cert and tls_key go together"),
        (("--tls-client-ca", "ca.pem"), "tls_client_ca (client certificates) needs tls_cert"),
    ],
)
async def test_incomplete_tls_settings_are_refused_in_one_line(
    tmp_path: pathlib.Path, flags: tuple[str, ...], says: str
) -> None:
    code, lines = await run_to_exit(tmp_path / "data", "--listen", "127.0.0.1:0", *flags)

    assert code == EXIT_BAD_CONFIG
    assert len(lines) == 1 and says in lines[0], lines
