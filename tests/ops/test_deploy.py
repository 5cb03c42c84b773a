"""The deployment examples: the config file is valid, the systemd unit verifies, and the server
works under the unit's MemoryDenyWriteExecute (through the kernel's own switch for it)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb

ROOT = pathlib.Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
LISTENING = re.compile(rb"agentmail listening on (\S+:\d+)")
START_SECONDS = 30
ARCHIVE_SECONDS = 60
EXIT_SECONDS = 15
# prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN): what systemd's MemoryDenyWriteExecute=yes
# does on kernels that have it (6.3+). Inherited by child processes, the archive worker too.
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
UNDER_MDWE = (
    "import ctypes, sys\n"
    f"if ctypes.CDLL(None, use_errno=True).prctl({PR_SET_MDWE}, {PR_MDWE_REFUSE_EXEC_GAIN},"
    " 0, 0, 0) != 0:\n"
    "    sys.exit(99)\n"
    "from agentmail_server.__main__ import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def test_the_example_config_file_is_valid_and_every_key_is_used() -> None:
    config = DEPLOY / "agentmail.toml"
    result = subprocess.run(
        [sys.executable, "-m", "agentmail_server", "--config", str(config), "--print-config"],
        env={k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    from_file = {line.split(" = ")[0] for line in result.stdout.splitlines() if "# file" in line}
    keys = {
        line.split(" = ")[0]
        for line in (DEPLOY / "agentmail.toml").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert from_file == keys
    assert 'data_dir = "/var/lib/agentmail"  # file' in result.stdout


def test_the_systemd_unit_verifies(tmp_path: pathlib.Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        message = (
            "systemd-analyze is not on PATH; install Debian's package: "
            "apt-get install -y --no-install-recommends systemd"
        )
        if os.environ.get("AGENTMAIL_REQUIRE_TOOLS") == "1":
            pytest.fail(message)
        pytest.skip(message)
    unit = (DEPLOY / "agentmail.service").read_text()
    assert "ExecStart=/opt/agentmail/bin/agentmail-server " in unit
    # verify checks that ExecStart's program exists: point it at this environment's.
    server = pathlib.Path(sys.executable).with_name("agentmail-server")
    copy = tmp_path / "agentmail.service"
    copy.write_text(unit.replace("/opt/agentmail/bin/agentmail-server", str(server)))

    result = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr


def _mdwe_available() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    probe = os.fork()
    if probe == 0:  # set it in a throwaway child: it cannot be unset
        os._exit(0 if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) == 0 else 1)
    _, status = os.waitpid(probe, 0)
    return os.waitstatus_to_exitcode(status) == 0


async def test_the_server_works_without_writable_executable_memory(
    tmp_path: pathlib.Path, connect, admin
) -> None:
    if not sys.platform.startswith("linux") or not _mdwe_available():
        pytest.skip("the kernel has no PR_SET_MDWE (Linux 6.3+)")
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTMAIL_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        UNDER_MDWE,
        "--listen",
        "127.0.0.1:0",
        "--metrics-listen",
        "127.0.0.1:0",
        "--data-dir",
        str(data),
        "--archive-interval-seconds",
        "0",
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    log: list[bytes] = []
    try:
        assert process.stderr is not None
        address = None
        deadline = time.monotonic() + START_SECONDS
        while address is None:
            line = await asyncio.wait_for(process.stderr.readline(), START_SECONDS)
            assert line, f"server exited: {b''.join(log)!r}"
            log.append(line)
            if match := LISTENING.search(line):
                address = match.group(1).decode()
            assert time.monotonic() < deadline
        drain = asyncio.create_task(process.stderr.read())
        async with connect(address) as channel:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/d"))).project
            token = (
                await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug.slug, name="A"))
            ).agent_token
            for i in range(5):
                await mail.SendMessage(
                    pb.SendMessageRequest(to=["A"], subject=f"s{i}", body="b"),
                    metadata=(("authorization", f"Bearer {token}"),),
                )
        # The archive worker (pygit2, in its own process) archives under the same rule.
        deadline = time.monotonic() + ARCHIVE_SECONDS
        while (await admin("archive", "verify", "--data-dir", str(data))).code != 0:
            assert time.monotonic() < deadline, "the archive never caught up"
            await asyncio.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), EXIT_SECONDS) == 0
        rest = await drain
        assert b"Traceback" not in b"".join(log) + rest
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
