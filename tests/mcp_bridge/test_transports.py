"""How the bridge is reached and how it reaches agentmail: streamable HTTP on a flag (the SDK's
own HTTP client against a bridge subprocess), and mTLS plus an enrollment secret to a server
that requires them, set by the same variables the ``agentmail`` command reads."""

from __future__ import annotations

import asyncio
import pathlib
import re
from typing import Any

from agentmail_client import AgentmailClient, ChannelConfig, TlsConfig
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from security._pki import Pki  # tests/ is on sys.path (pytest prepends the packages' root)

from .conftest import AGENTMAIL_MCP, PROJECT_KEY, Team, call, call_error, open_bridge

START = 30.0


async def test_streamable_http_on_a_flag(mcp_team: Team) -> None:
    process = await asyncio.create_subprocess_exec(
        str(AGENTMAIL_MCP),
        "--http",
        "127.0.0.1:0",  # the bridge says which port it bound
        env=mcp_team.env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(START):
            ready = (await process.stderr.readline()).decode()
        found = re.search(r"http://127\.0\.0\.1:\d+/mcp", ready)
        assert found, ready
        async with (
            streamable_http_client(found.group(0)) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            await call(session, "register_agent", program="http-client")
            bob = await call(session, "whois", agent_name="Bob")
            assert bob["name"] == "Bob" and bob["program"] == "pytest"
    finally:
        process.terminate()
        async with asyncio.timeout(START):
            rest = (await process.stderr.read()).decode()
            await process.wait()
    assert "Traceback" not in rest, rest


async def test_mtls_and_an_enrollment_secret(tmp_path: pathlib.Path, start_server: Any) -> None:
    pki = Pki(tmp_path / "pki")
    ca = pki.ca("bridge test CA")
    server_cert = pki.server(ca)
    alice_cert = pki.issue(ca, "alice", client=True)
    bob_cert = pki.issue(ca, "bob", client=True)
    secret = "enroll-" + "x" * 24
    settings = {
        "tls_cert": str(server_cert.cert_path),
        "tls_key": str(server_cert.key_path),
        "tls_client_ca": str(ca.cert_path),
        "enrollment_secret": secret,
    }
    tls = TlsConfig(
        root_certificates=ca.cert_path,
        client_certificate=bob_cert.cert_path,
        client_key=bob_cert.key_path,
    )
    env = {
        "AGENTMAIL_TLS_ROOTS": str(ca.cert_path),
        "AGENTMAIL_TLS_CLIENT_CERT": str(alice_cert.cert_path),
        "AGENTMAIL_TLS_CLIENT_KEY": str(alice_cert.key_path),
    }
    async with (
        start_server(tmp_path / "data", **settings) as server,
        AgentmailClient(
            server.address, channel=ChannelConfig(tls=tls), enrollment_secret=secret
        ) as anonymous,
    ):
        slug = (await anonymous.ensure_project(PROJECT_KEY)).project.slug
        registered = await anonymous.register_agent(slug, "Bob", program="pytest")
        team = Team(server.address, slug, tmp_path, anonymous.with_token(registered.token))
        async with open_bridge(team, env=env) as session:
            refused = await call_error(session, "register_agent")
            assert "Hint:" in refused and secret not in refused, refused
        async with open_bridge(team, env={**env, "AGENTMAIL_ENROLLMENT_SECRET": secret}) as session:
            await call(session, "register_agent")
            sent = await call(session, "send_message", to=["Bob"], subject="over mTLS")
        inbox = await team.bob.list_inbox()
        assert [i.message.id for i in inbox.items] == [sent["message"]["id"]]
        async with open_bridge(team, env={"AGENTMAIL_TLS_ROOTS": str(ca.cert_path)}) as session:
            # The token is stored, but without a client certificate the server refuses.
            unreachable = await call_error(session, "fetch_inbox")
            assert "UNAVAILABLE" in unreachable and "Traceback" not in unreachable, unreachable
