"""``agentmail-admin``: one command for operators, with the archive and metrics tools folded in
(their old names keep working) and paths taken from the server's config file."""

from __future__ import annotations

import asyncio
import pathlib
import sys
import tomllib

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb

ROOT = pathlib.Path(__file__).resolve().parents[2]
ARCHIVE_SECONDS = 60


async def run_module(module: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def test_admin_and_the_old_commands_are_declared():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["agentmail-admin"] == "agentmail_server.admin.cli:main"
    assert scripts["agentmail-archive"] == "agentmail_server.archive.cli:main"
    assert scripts["agentmail-metrics"] == "agentmail_server.metrics.cli:main"


@pytest.mark.archive
async def test_archive_verify_through_admin_matches_the_old_command(
    tmp_path, start_server, connect, admin
):
    data = tmp_path / "data"
    async with (
        start_server(data, archive_interval_seconds=0.0) as server,
        connect(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/a"))).project.slug
        token = (
            await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Alice"))
        ).agent_token
        for i in range(3):
            sent = await mail.SendMessage(
                mpb.SendMessageRequest(to=["Alice"], subject=f"s{i}"),
                metadata=(("authorization", f"Bearer {token}"),),
            )
        assert server.archive is not None
        await server.archive.wait_until_archived(sent.message.id, ARCHIVE_SECONDS)

    folded = await admin("archive", "verify", "--data-dir", str(data))
    code, out, err = await run_module(
        "agentmail_server.archive.cli", "verify", "--data-dir", str(data)
    )

    assert (folded.code, code) == (0, 0), (folded.out, err)
    assert folded.out == out
    assert "checked 3 messages and 1 agent profiles" in out
    assert "ok: everything in the database is in the archive" in out


async def test_folded_tools_parse_their_own_options(admin):
    archive_help = await admin("archive", "--help")
    metrics_help = await admin("metrics", "--help")

    assert archive_help.code == 0
    assert archive_help.out.startswith("usage: agentmail-admin archive")
    assert "{rebuild,verify}" in archive_help.out
    assert metrics_help.code == 0
    assert metrics_help.out.startswith("usage: agentmail-admin metrics")
    assert "--url" in metrics_help.out


async def test_metrics_through_admin_reports_an_unreachable_endpoint(admin):
    ran = await admin("metrics", "--url", "http://127.0.0.1:1/metrics", "--timeout", "5")

    assert ran.code == 1
    assert ran.err.startswith("agentmail-admin metrics: cannot scrape http://127.0.0.1:1/metrics")


async def test_paths_come_from_the_config_file(tmp_path, start_server, admin):
    data = tmp_path / "data"
    async with start_server(data):
        pass
    config = tmp_path / "agentmail.toml"
    config.write_text(f"data_dir = {str(data)!r}\n")

    by_flag = await admin("--config", str(config), "archive", "verify")
    by_env = await admin("backup", str(tmp_path / "b"), env={"AGENTMAIL_CONFIG": str(config)})
    without = await admin("backup", str(tmp_path / "c"), env={})

    assert by_flag.code == 0, by_flag.err
    assert f"in {data / 'archive.git'}" in by_flag.out
    assert by_env.code == 0, by_env.err
    assert by_env.out.startswith(f"backed up {data} to {tmp_path / 'b'}: 0 messages")
    assert without.code == 2  # the default ./agentmail-data holds no database
    assert "no database at agentmail-data/agentmail.sqlite3" in without.err
