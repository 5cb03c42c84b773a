"""Per-call log lines: none at the default INFO level (as the README says, DEBUG adds them),
one INFO line per call with --access-log, and never a token, whatever the level."""

from __future__ import annotations

import asyncio
import signal

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb

EXIT_SECONDS = 30
WRONG_TOKEN = "am_wrong-token-that-must-not-be-logged-0123456789"


async def workload(address: str) -> list[str]:
    """A project, an agent, an authenticated call, a rejected token and a failing call;
    returns the secrets involved (the agent's token and the wrong one)."""
    async with grpc.aio.insecure_channel(address) as channel:
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        project = await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/log/p"))
        registered = await agents.RegisterAgent(
            apb.RegisterAgentRequest(project=project.project.slug, name="Logger")
        )
        token = registered.agent_token
        await mail.ListInbox(
            mpb.ListInboxRequest(), metadata=(("authorization", f"Bearer {token}"),)
        )
        for bad in (WRONG_TOKEN, f"Bearer {WRONG_TOKEN}"):
            with pytest.raises(grpc.aio.AioRpcError):
                await mail.ListInbox(mpb.ListInboxRequest(), metadata=(("authorization", bad),))
        with pytest.raises(grpc.aio.AioRpcError):
            await agents.GetProject(
                apb.GetProjectRequest(slug="no-such-project"),
                metadata=(("authorization", f"Bearer {token}"),),
            )
    return [token, WRONG_TOKEN]


async def run_and_read_log(spawn_server, data_dir, *flags: str) -> tuple[str, list[str]]:
    """Serve ``workload`` from a server process with ``flags``; its whole log and secrets."""
    async with spawn_server(data_dir, *flags) as server:
        secrets = await workload(server.address)
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), EXIT_SECONDS) == 0
    return b"".join(server.log).decode(errors="replace"), secrets


def call_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if " agentmail_server.access " in line]


async def test_the_default_log_has_no_per_call_lines(tmp_path, spawn_server):
    log, _ = await run_and_read_log(spawn_server, tmp_path / "data")

    assert "agentmail listening on" in log
    assert call_lines(log) == []
    assert "/agentmail.v1.MailService/ListInbox" not in log


async def test_debug_adds_one_line_per_call(tmp_path, spawn_server):
    log, _ = await run_and_read_log(spawn_server, tmp_path / "data", "--log-level", "DEBUG")

    lines = call_lines(log)
    assert len(lines) == 6, lines
    assert all(" DEBUG " in line for line in lines), lines
    # Our detail only: not every SQL statement with its parameters, nor gRPC's polling.
    debug_sources = {line.split()[3] for line in log.splitlines() if " DEBUG " in line}
    assert not {s for s in debug_sources if s.split(".")[0] in ("aiosqlite", "grpc")}, log


async def test_the_access_log_writes_one_info_line_per_call(tmp_path, spawn_server):
    log, _ = await run_and_read_log(spawn_server, tmp_path / "data", "--access-log", "true")

    lines = call_lines(log)
    assert [line.split()[2] for line in lines] == ["INFO"] * 6, lines
    calls = [line.split()[5:8] for line in lines]
    assert calls[0][:2] == ["/agentmail.v1.AgentService/EnsureProject", "OK"]
    assert calls[2][:2] == ["/agentmail.v1.MailService/ListInbox", "OK"]
    assert calls[3] == ["/agentmail.v1.MailService/ListInbox", "UNAUTHENTICATED", "TOKEN_MISSING"]
    assert calls[4] == ["/agentmail.v1.MailService/ListInbox", "UNAUTHENTICATED", "TOKEN_INVALID"]
    assert calls[5][:3] == [
        "/agentmail.v1.AgentService/GetProject",
        "NOT_FOUND",
        "PROJECT_NOT_FOUND",
    ]


@pytest.mark.parametrize("flags", [(), ("--log-level", "DEBUG", "--access-log", "true")])
async def test_no_token_is_ever_logged(tmp_path, spawn_server, flags):
    log, secrets = await run_and_read_log(spawn_server, tmp_path / "data", *flags)

    for secret in secrets:
        assert secret and secret not in log
