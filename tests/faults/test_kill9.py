"""kill -9 of the server under sustained load from several sender processes, at several
points, with subscribers attached and the archive on: every acknowledged send is present
exactly once after each restart, subscribers resume from their cursors with nothing skipped
or repeated, and the archive catches up.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import sqlite3
import sys
from typing import Any

import grpc
import pygit2
import pytest
from agentmail.v1 import mail_service_pb2
from agentmail_server.archive._commits import parse_position

from .conftest import Api, auth, wait_for

SENDERS = 4
KILLS = 3
ACKS_PER_ROUND = 60
WAIT_SECONDS = 60.0
SENDER = pathlib.Path(__file__).with_name("_sender.py")
FAST_ARCHIVE = ("--archive-interval-seconds", "0.01")


def read_acks(folder: pathlib.Path) -> dict[str, int]:
    """Every acknowledged send of every sender: message id by idempotency key."""
    acks: dict[str, int] = {}
    for path in sorted(folder.glob("acks-*")):
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, ident = line.partition(" ")
            assert key not in acks, f"{key} acknowledged twice"
            acks[key] = int(ident)
    return acks


def archived_position(repository: pathlib.Path) -> int:
    """The last message id recorded at the archive branch's head (0 before any commit)."""
    if not repository.exists():
        return 0
    reference = pygit2.Repository(str(repository)).references.get("refs/heads/main")
    if reference is None:
        return 0
    repo = pygit2.Repository(str(repository))
    position = parse_position(repo[reference.target].message)
    return 0 if position is None else position.message_id


def stored(database: pathlib.Path) -> list[tuple[int, str]]:
    """Every message in the database: (id, subject)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as conn:
        return list(conn.execute("SELECT id, subject FROM messages ORDER BY id"))


async def _true(value: bool) -> bool:
    return value


class Subscriber:
    """Bob's subscription, resumed from the last cursor it received after each kill."""

    def __init__(self) -> None:
        self.cursor = ""
        self.ids: list[int] = []
        self.live = asyncio.Event()

    async def follow(self, api: Api, token: str) -> None:
        """Read until the stream breaks (the server was killed); bounded by WAIT_SECONDS."""
        call = api.mail.SubscribeInbox(
            mail_service_pb2.SubscribeInboxRequest(cursor=self.cursor), metadata=auth(token)
        )
        try:
            async with asyncio.timeout(WAIT_SECONDS):
                while (event := await call.read()) is not grpc.aio.EOF:
                    if event.HasField("item"):
                        self.ids.append(event.item.message.id)
                        self.cursor = event.item.cursor
                    elif event.HasField("heartbeat"):
                        self.cursor = event.heartbeat.tail_cursor
                        self.live.set()
                    elif event.HasField("end"):
                        self.cursor = event.end.resume_cursor
        except grpc.aio.AioRpcError:
            pass  # killed: resume from self.cursor on the next server
        finally:
            call.cancel()


@pytest.mark.archive
async def test_kill9_under_load_loses_and_repeats_nothing(
    tmp_path: pathlib.Path, spawn_server: Any, api_for: Any
) -> None:
    data = tmp_path / "data"
    address_file, stop_file = tmp_path / "address", tmp_path / "stop"
    subscriber = Subscriber()
    senders: list[asyncio.subprocess.Process] = []
    report: list[str] = []
    try:
        for round_ in range(KILLS + 1):
            async with (
                spawn_server(data, *FAST_ARCHIVE) as running,
                api_for(running.address) as api,
            ):
                # Atomically: a sender may read it at any moment.
                address_file.with_suffix(".new").write_text(running.address, encoding="utf-8")
                address_file.with_suffix(".new").replace(address_file)
                if round_ == 0:
                    tokens = await api.team("Alice", "Bob")
                    senders = [
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            str(SENDER),
                            str(address_file),
                            tokens["Alice"],
                            f"p{i}",
                            str(tmp_path / f"acks-{i}"),
                            str(stop_file),
                            stdin=asyncio.subprocess.DEVNULL,
                        )
                        for i in range(SENDERS)
                    ]
                else:
                    # Everything acknowledged before the kill is there, exactly once.
                    acks = read_acks(tmp_path)
                    inbox = await api.inbox_ids(tokens["Bob"])
                    assert len(inbox) == len(set(inbox))
                    missing = set(acks.values()) - set(inbox)
                    report.append(
                        f"kill {round_}: {len(acks)} acknowledged, "
                        f"{len(set(acks.values()) & set(inbox))} found, {len(inbox)} stored"
                    )
                    assert not missing, f"acknowledged but lost: {sorted(missing)[:10]}"
                follower = asyncio.create_task(subscriber.follow(api, tokens["Bob"]))
                target = len(read_acks(tmp_path)) + ACKS_PER_ROUND
                await wait_for(
                    lambda target=target: _true(len(read_acks(tmp_path)) >= target),
                    "acks",
                    WAIT_SECONDS,
                )
                if round_ < KILLS:
                    running.process.kill()  # SIGKILL to the server this test started
                    await running.process.wait()
                    await asyncio.wait({follower})  # its stream broke with the server
                else:
                    stop_file.touch()
                    async with asyncio.timeout(WAIT_SECONDS):
                        for sender in senders:
                            assert await sender.wait() == 0
                if round_ == KILLS:
                    # The subscriber, resumed after each kill, saw each message once, in order.
                    inbox = await api.inbox_ids(tokens["Bob"])
                    await wait_for(
                        lambda inbox=inbox: _true(subscriber.ids[-1:] == inbox[-1:]),
                        "the subscriber",
                        WAIT_SECONDS,
                    )
                    follower.cancel()
                    await asyncio.wait({follower})
                    assert subscriber.ids == inbox
                    acks = read_acks(tmp_path)
                    assert set(acks.values()) <= set(inbox)
                    subjects = [subject for _, subject in stored(data / "agentmail.sqlite3")]
                    assert len(subjects) == len(set(subjects)), "a key was stored twice"
                    # The archive catches up with everything committed.
                    await wait_for(
                        lambda inbox=inbox: _true(
                            archived_position(data / "archive.git") >= inbox[-1]
                        ),
                        "the archive",
                        WAIT_SECONDS,
                    )
                    report.append(
                        f"final: {len(acks)} acknowledged, {len(inbox)} stored, "
                        f"archive at {archived_position(data / 'archive.git')}"
                    )
    finally:
        stop_file.touch()
        for sender in senders:
            if sender.returncode is None:
                sender.kill()  # only the processes this test started, by their handle
                await sender.wait()
    print("\n" + "\n".join(report))
