"""kill -9 during a burst: after a restart the archive holds every committed message exactly
once, and git accepts the repository."""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import signal
import sqlite3
import subprocess
from typing import Any

import grpc
import pygit2
import pytest
from agentmail.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
)
from agentmail_server.archive._commits import parse_position

STARTUP_SECONDS = 20.0
CATCH_UP_SECONDS = 30.0
WORKERS = 24
KILL_AFTER = 400
FAST_ARCHIVE = ("--archive-interval-seconds", "0.01")


def archived_position(repository: pathlib.Path) -> int:
    """The last message id recorded at the archive branch's head (0 before any commit)."""
    if not repository.exists():
        return 0
    repo = pygit2.Repository(str(repository))
    reference = repo.references.get("refs/heads/main")
    if reference is None:
        return 0
    position = parse_position(repo[reference.target].message)
    assert position is not None
    return position.message_id


def committed_ids(database: pathlib.Path) -> list[int]:
    """Every message id in the database."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return [row[0] for row in conn.execute("SELECT id FROM messages ORDER BY id")]


@pytest.mark.slow
async def test_sigkill_during_a_burst_loses_and_repeats_no_message(
    tmp_path: pathlib.Path, open_archive: Any, spawn_server: Any
) -> None:
    data = tmp_path / "data"
    repository = data / "archive.git"
    acked: list[int] = []
    async with (
        spawn_server(data, *FAST_ARCHIVE) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug = (
            await agents.EnsureProject(agent_service_pb2.EnsureProjectRequest(human_key="/k"))
        ).project.slug
        tokens = []
        for name in ("Alice", "Bob", "Carol"):
            registered = await agents.RegisterAgent(
                agent_service_pb2.RegisterAgentRequest(project=slug, name=name)
            )
            tokens.append((("authorization", f"Bearer {registered.agent_token}"),))
        enough = asyncio.Event()

        async def burst(worker: int) -> None:
            for i in range(10_000):
                request = mail_service_pb2.SendMessageRequest(
                    to=["Bob"], cc=["Carol"], subject=f"w{worker} #{i}", body="x" * 200
                )
                try:
                    sent = await mail.SendMessage(request, metadata=tokens[0], timeout=10)
                except grpc.aio.AioRpcError:
                    return  # the server is gone
                acked.append(sent.message.id)
                if len(acked) >= KILL_AFTER and archived_position(repository) > 0:
                    enough.set()

        workers = [asyncio.create_task(burst(w)) for w in range(WORKERS)]
        await asyncio.wait_for(enough.wait(), CATCH_UP_SECONDS)
        running.process.send_signal(signal.SIGKILL)  # sends and archive commits are in flight
        assert await running.process.wait() == -signal.SIGKILL
        await asyncio.gather(*workers)

    assert acked
    async with spawn_server(data, *FAST_ARCHIVE) as running:
        committed = committed_ids(data / "agentmail.sqlite3")
        deadline = asyncio.get_running_loop().time() + CATCH_UP_SECONDS
        while archived_position(repository) < committed[-1]:
            assert asyncio.get_running_loop().time() < deadline, "the archive never caught up"
            await asyncio.sleep(0.02)
        running.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(running.process.wait(), STARTUP_SECONDS) == 0

    assert not list((repository / "objects" / "pack").glob("tmp_*"))  # no half-written pack
    archive = open_archive(repository)
    archived = archive.message_files(slug)  # fails on a message archived twice
    assert set(acked) <= set(archived)
    assert sorted(archived) == committed
    fsck = await asyncio.to_thread(
        subprocess.run,
        ["git", "fsck", "--full", "--strict"],
        cwd=repository,
        capture_output=True,
        text=True,
        check=False,
    )
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


@pytest.mark.slow
async def test_a_dead_worker_is_restarted_and_the_archive_continues(
    tmp_path: pathlib.Path, team_on: Any, wait_for_stats: Any
) -> None:
    async with team_on(tmp_path / "data") as team:
        await team.archived(await team.send("Alice", to=("Bob",)))
        pid = team.server.archive.worker_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await wait_for_stats(team.server, lambda s: s.worker_restarts == 1)
        after = await team.send("Bob", to=("Alice",), subject="After the restart")
        await team.archived(after)
        assert team.server.archive.worker_pid not in (None, pid)
