"""``agentmail-admin backup`` of a running server under load, and ``restore`` into a new folder.

The server runs as its own process, sends keep going while the backup runs, and a new server
started on the restored folder serves every message acknowledged before the backup began.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import time

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb
from agentmail_server.datalock import DataFolderLock

BEFORE_BACKUP = 60
# Sends the load must have made before the backup starts, so that it is running by then.
LOAD_WARM = 5
CATCH_UP_SECONDS = 60
EXIT_SECONDS = 15


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


async def team(channel: grpc.aio.Channel) -> tuple[str, str]:
    """Register Alice and Bob in a new project; returns their tokens."""
    agents = agent_service_pb2_grpc.AgentServiceStub(channel)
    project = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/b"))).project
    tokens = []
    for name in ("Alice", "Bob"):
        reply = await agents.RegisterAgent(
            apb.RegisterAgentRequest(project=project.slug, name=name)
        )
        tokens.append(reply.agent_token)
    return tokens[0], tokens[1]


async def send(mail: mail_service_pb2_grpc.MailServiceStub, token: str, subject: str) -> int:
    reply = await mail.SendMessage(
        pb.SendMessageRequest(to=["Bob"], subject=subject, body=f"body of {subject}"),
        metadata=auth(token),
        timeout=30,
    )
    return int(reply.message.id)


async def wait_until(check, seconds: float) -> None:
    """Await ``check()`` until it returns true, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


@pytest.mark.archive
async def test_backup_under_load_restores_everything_acknowledged_before_it(
    tmp_path, spawn_server, connect, admin
):
    data, dest, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    during: list[int] = []
    async with (
        spawn_server(data, "--archive-interval-seconds", "0") as server,
        connect(server.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        alice, bob = await team(channel)
        acknowledged = [await send(mail, alice, f"before {i}") for i in range(BEFORE_BACKUP)]
        # A page token Bob keeps: it must still work on the restored server (the backup
        # carries the cursor key).
        first_page = await mail.ListInbox(pb.ListInboxRequest(page_size=2), metadata=auth(bob))
        stop_load = asyncio.Event()
        warm = asyncio.Event()

        async def load() -> None:
            while not stop_load.is_set():
                during.append(await send(mail, alice, f"during {len(during)}"))
                if len(during) >= LOAD_WARM:
                    warm.set()

        loader = asyncio.create_task(load())
        await warm.wait()
        sent_when_backup_started = len(during)
        backed_up = await admin("backup", str(dest), "--data-dir", str(data))
        sent_when_backup_ended = len(during)
        stop_load.set()
        await loader
        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(server.process.wait(), EXIT_SECONDS) == 0

    assert backed_up.code == 0, backed_up.err
    assert sent_when_backup_ended > sent_when_backup_started  # sends went on meanwhile
    manifest = json.loads((dest / "backup.json").read_text())
    # The archive was copied first: it is never ahead of the database copy.
    assert manifest["archived_message_id"] is not None
    assert manifest["archived_message_id"] <= manifest["last_message_id"]
    assert manifest["last_message_id"] >= acknowledged[-1]

    restored_run = await admin("restore", str(dest), str(restored))
    assert restored_run.code == 0, restored_run.err
    with contextlib.closing(sqlite3.connect(restored / "agentmail.sqlite3")) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        ids = [row[0] for row in conn.execute("SELECT id FROM messages ORDER BY id")]
    # A snapshot of one commit: every id up to its newest, none missing, none after.
    assert ids == list(range(1, manifest["last_message_id"] + 1))

    async with (
        spawn_server(restored, "--archive-interval-seconds", "0") as again,
        connect(again.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        for message_id in acknowledged:
            got = await mail.GetMessage(
                pb.GetMessageRequest(message_id=message_id), metadata=auth(bob)
            )
            assert got.message.subject == f"before {message_id - 1}"
        next_page = await mail.ListInbox(
            pb.ListInboxRequest(page_size=2, page_token=first_page.next_page_token),
            metadata=auth(bob),
        )
        assert [item.message.id for item in next_page.items] == acknowledged[2:4]
        # Ids go on from the backup's newest: none is handed out twice.
        assert await send(mail, alice, "after restore") == manifest["last_message_id"] + 1

        async def archive_verifies() -> bool:
            return (await admin("archive", "verify", "--data-dir", str(restored))).code == 0

        # The restored archive was behind the database; the restored server catches it up.
        await wait_until(archive_verifies, CATCH_UP_SECONDS)
        again.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(again.process.wait(), EXIT_SECONDS) == 0


async def test_backup_refuses_a_folder_that_is_not_empty(tmp_path, start_server, admin):
    data, dest = tmp_path / "data", tmp_path / "backup"
    async with start_server(data):
        dest.mkdir()
        (dest / "keep.txt").write_text("mine")
        ran = await admin("backup", str(dest), "--data-dir", str(data))

    assert ran.code == 2
    assert ran.err.strip() == f"agentmail-admin backup: backup folder {dest} is not empty"
    assert [entry.name for entry in dest.iterdir()] == ["keep.txt"]


async def test_backup_of_a_folder_without_a_database_is_refused(tmp_path, admin):
    ran = await admin("backup", str(tmp_path / "b"), "--data-dir", str(tmp_path / "none"))

    assert ran.code == 2
    assert "no database at" in ran.err


async def test_restore_refuses_a_folder_that_is_not_empty_or_in_use(tmp_path, start_server, admin):
    data, dest = tmp_path / "data", tmp_path / "backup"
    async with start_server(data):
        assert (await admin("backup", str(dest), "--data-dir", str(data))).code == 0

    # The stopped server's folder holds a database: restoring over it is refused.
    over = await admin("restore", str(dest), str(data))
    assert over.code == 2
    assert over.err.strip() == f"agentmail-admin restore: data folder {data} is not empty"

    # An empty folder that a process holds the lock of is in use.
    busy = tmp_path / "busy"
    busy.mkdir()
    with DataFolderLock(busy):
        held = await admin("restore", str(dest), str(busy))
    assert held.code == 2
    assert "is in use by another agentmail server" in held.err
    assert sorted(entry.name for entry in busy.iterdir()) == ["agentmail.lock"]

    # A folder that is not a backup is refused before anything is written.
    empty = tmp_path / "empty"
    fresh = tmp_path / "fresh"
    empty.mkdir()
    not_backup = await admin("restore", str(empty), str(fresh))
    assert not_backup.code == 2
    assert "is not a complete agentmail backup" in not_backup.err
    assert not fresh.exists()


async def test_operator_tokens_survive_a_backup_and_restore(tmp_path, start_server, admin, connect):
    data, dest, restored = tmp_path / "data", tmp_path / "backup", tmp_path / "restored"
    minted = await admin("operator-token", "--data-dir", str(data))
    assert minted.code == 0, minted.err
    operator = minted.out.strip()
    async with start_server(data):
        assert (await admin("backup", str(dest), "--data-dir", str(data))).code == 0
    assert json.loads((dest / "backup.json").read_text())["operator_tokens"] == "operator-tokens"
    assert (dest / "operator-tokens").stat().st_mode & 0o777 == 0o600

    assert (await admin("restore", str(dest), str(restored))).code == 0
    assert (restored / "operator-tokens").stat().st_mode & 0o777 == 0o600
    async with start_server(restored) as server, connect(server.address) as channel:
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        listed = await agents.ListProjects(apb.ListProjectsRequest(), metadata=auth(operator))
    assert list(listed.projects) == []  # the operator is let in: no project exists yet
