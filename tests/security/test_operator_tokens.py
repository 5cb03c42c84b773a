"""Operator tokens minted by ``agentmail-admin operator-token`` (only their hash is stored,
in a 0600 file), and the enrollment secret kept out of ``--print-config``."""

from __future__ import annotations

import hashlib
import stat
import subprocess
import sys

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc
from agentmail_server.admin import cli
from conftest import md, open_channel, running_server


async def test_a_minted_operator_token_works_after_a_restart_and_only_its_hash_is_kept(
    tmp_path, capsys
):
    data = tmp_path / "data"
    assert cli.main(["operator-token", "--data-dir", str(data)], environ={}) == 0
    token = capsys.readouterr().out.strip()
    stored = (data / "operator-tokens").read_text()

    assert token.startswith("amop_")
    assert token not in stored
    assert stored.strip() == hashlib.sha256(token.encode()).hexdigest()
    assert stat.S_IMODE((data / "operator-tokens").stat().st_mode) == 0o600
    async with (
        running_server(data, archive=False, operator_token_hashes="") as server,
        open_channel(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/op"))
        listed = await agents.ListProjects(apb.ListProjectsRequest(), metadata=md(token))
        assert [p.human_key for p in listed.projects] == ["/op"]


async def test_an_operator_token_file_others_may_read_stops_the_start(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "operator-tokens").write_text("0" * 64 + "\n")
    (data / "operator-tokens").chmod(0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        async with running_server(data, archive=False):
            pass


def test_print_config_redacts_the_enrollment_secret(tmp_path):
    secret = "do-not-print-this-secret"
    shown = subprocess.run(
        [sys.executable, "-m", "agentmail_server", "--print-config"],
        capture_output=True,
        text=True,
        check=True,
        env={"AGENTMAIL_ENROLLMENT_SECRET": secret, "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
    ).stdout
    assert secret not in shown
    assert 'enrollment_secret = "<redacted>"' in shown
