"""The git archive on PostgreSQL: one elected writer, and failover without gaps or duplicates.

Every server following one database runs an archive worker; the one whose connection holds
the archive's advisory lock writes, the others stand by. These tests hold that lock themselves
(to keep a worker standing by), cut a leader's connection, and SIGKILL a leader server with
its worker mid-load, then check the repository: every message once, positions in the commit
history only ever moving forward, and ``agentmail-archive verify`` content.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pathlib
import re
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import psycopg
import pytest
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc
from agentmail_server.archive import ArchiveDatabase, Position, archived_position, verify
from agentmail_server.archive._commits import parse_position
from agentmail_server.archive._pg_source import ARCHIVE_LOCK
from agentmail_server.archive.cli import main as archive_main
from archive.conftest import NAMES, ArchiveRepo, make_team
from conftest import ServerProcess, create_project, open_channel, register_agent

pytestmark = pytest.mark.archive

WITHIN = 30.0
# A message line of a commit message: "- #<id> <project>: ..."
LISTED = re.compile(r"^- #(\d+) ", re.MULTILINE)
POLL_SECONDS = 0.02
_HOLDERS = (
    "SELECT a.application_name, a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s"
    " AND l.objsubid = 2 AND l.database = (SELECT oid FROM pg_database"
    " WHERE datname = current_database())"
)
_ATTEMPTS = (
    "SELECT query_start FROM pg_stat_activity WHERE application_name = %s"
    " AND query LIKE 'SELECT pg_try_advisory_lock%%'"
)


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail after WITHIN seconds."""
    deadline = asyncio.get_running_loop().time() + WITHIN
    while not (found := await check()):
        assert asyncio.get_running_loop().time() < deadline, f"never: {what}"
        await asyncio.sleep(POLL_SECONDS)
    return found


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    conn = await psycopg.AsyncConnection.connect(url, autocommit=True)
    try:
        yield conn
    finally:
        await conn.close()


async def holders(conn: psycopg.AsyncConnection[Any]) -> list[tuple[str, int]]:
    """(application_name, backend pid) of each session holding the archive lock."""
    cursor = await conn.execute(_HOLDERS, ARCHIVE_LOCK)
    return [(str(row[0]), int(row[1])) for row in await cursor.fetchall()]


async def take_lock(conn: psycopg.AsyncConnection[Any]) -> bool:
    cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", ARCHIVE_LOCK)
    row = await cursor.fetchone()
    return bool(row and row[0])


def history_positions(repository: pathlib.Path) -> list[int]:
    """The message position of each commit of the branch, oldest first."""
    archive = ArchiveRepo(repository)
    positions = []
    for commit in reversed(archive.commits()):
        position = parse_position(commit.message)
        assert position is not None, commit.message
        positions.append(position.message_id)
    return positions


def committed_ids(repository: pathlib.Path) -> list[int]:
    """The id of each message each commit of the branch lists, oldest commit first (a commit
    lists up to 200 messages: this fails if one left some unlisted)."""
    ids = []
    for commit in reversed(ArchiveRepo(repository).commits()):
        assert "- … and" not in commit.message, "a commit too big to list: shrink the test"
        ids += [int(m) for m in LISTED.findall(commit.message)]
    return ids


def assert_archived_once(repository: pathlib.Path, slug: str, ids: set[int]) -> None:
    """Every message of ``ids`` is in the head's tree exactly once, was committed by exactly
    one commit, and the history's positions never went back."""
    files = ArchiveRepo(repository).message_files(slug)  # fails on a file present twice
    assert set(files) == ids
    committed = committed_ids(repository)
    assert sorted(committed) == sorted(ids), "a message committed twice, or never"
    positions = history_positions(repository)
    assert positions == sorted(positions), f"the archive went back: {positions}"


async def test_mail_sent_on_postgres_is_archived_and_verifies(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    data = tmp_path / "data"
    async with (
        start_server(data, archive_interval_seconds=0.05) as server,
        open_channel(server.address) as channel,
    ):
        team = await make_team(server, channel, NAMES)
        ids = {
            await team.send("Alice", to=("Bob",), subject="Plain", body="hello"),
            await team.send("Bob", to=("Alice",), cc=("Carol",), subject="Nul", body="a\x00b"),
            await team.send("Carol", to=("Zed",), bcc=("Alice",), subject="Bcc", body="c"),
        }
        await server.archive.wait_until_archived(max(ids), WITHIN)
        assert server.archive.stats().leader
        repository = server.config.archive_path
        assert_archived_once(repository, team.slug, ids)
        report = await asyncio.to_thread(verify, ArchiveDatabase(data, url), repository)
        assert report.ok, report.details
        assert report.messages == len(ids)
        source = ArchiveDatabase(data, url).open()
        try:  # the byte budget cuts a batch after its first message, the rest stays unread
            batch = source.read(Position(), max_records=10, max_bytes=1)
        finally:
            source.close()
        assert [r.message.id for r in batch.messages] == [min(ids)] and batch.full
    code = await asyncio.to_thread(
        archive_main,
        ["verify", "--data-dir", str(data)],
        environ={"AGENTMAIL_DATABASE_URL": url},
    )
    assert code == 0


async def test_a_worker_stands_by_while_another_session_holds_the_lock(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    data = tmp_path / "data"
    async with database(url) as holder:
        assert await take_lock(holder)
        async with (
            start_server(data, archive_interval_seconds=0.05) as server,
            open_channel(server.address) as channel,
        ):
            team = await make_team(server, channel, NAMES)
            last = await team.send("Alice", to=("Bob",), subject="Held", body="x")
            label = f"agentmail-archive {os.getpid()}"

            async def attempts() -> list[Any]:
                cursor = await holder.execute(_ATTEMPTS, (label,))
                return [row[0] for row in await cursor.fetchall()]

            # Three attempts seen after the send committed: the worker kept trying, and lost.
            seen: set[Any] = set()

            async def tried_twice() -> bool:
                seen.update(await attempts())
                return len(seen) >= 3

            await until(tried_twice, "the standing-by worker retried the lock")
            assert not server.archive.stats().leader
            assert server.archive.stats().lag_messages == 0, "a follower reports no lag"
            assert archived_position(server.config.archive_path) is None, "it wrote nothing"
            await holder.execute("SELECT pg_advisory_unlock(%s, %s)", ARCHIVE_LOCK)
            await server.archive.wait_until_archived(last, WITHIN)
            assert server.archive.stats().leader
            assert_archived_once(server.config.archive_path, team.slug, {last})


async def test_a_leader_whose_connection_is_cut_stops_writing_then_leads_again(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    async with (
        start_server(tmp_path / "data", archive_interval_seconds=0.05) as server,
        open_channel(server.address) as channel,
        database(url) as admin,
        database(url) as successor,
    ):
        team = await make_team(server, channel, NAMES)
        first = await team.send("Alice", to=("Bob",), subject="Before", body="x")
        await server.archive.wait_until_archived(first, WITHIN)
        ((_, backend),) = await holders(admin)
        # Queued behind the leader's session before it is cut, so that this session gets the
        # lock as it is released, before the worker could take it again.
        waiting = asyncio.create_task(
            successor.execute("SELECT pg_advisory_lock(%s, %s)", ARCHIVE_LOCK)
        )

        async def queued() -> bool:
            cursor = await admin.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = %s AND objid = %s",
                ARCHIVE_LOCK,
            )
            row = await cursor.fetchone()
            return bool(row and row[0])

        await until(queued, "the test's session waits for the lock")
        await admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        await asyncio.wait_for(waiting, WITHIN)
        second = await team.send("Bob", to=("Alice",), subject="During", body="y")

        async def standing_by() -> bool:
            return not server.archive.stats().leader

        await until(standing_by, "the worker noticed it lost the lock")
        position = archived_position(server.config.archive_path)
        assert position is not None and position.message_id < second
        await successor.execute("SELECT pg_advisory_unlock(%s, %s)", ARCHIVE_LOCK)
        await server.archive.wait_until_archived(second, WITHIN)
        stats = server.archive.stats()
        assert stats.leader and stats.worker_restarts == 0
        assert_archived_once(server.config.archive_path, team.slug, {first, second})


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux)."""
    text = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return [int(part) for part in text.split()]


class Load:
    """Senders with idempotency keys spread over servers; the leader is killed mid-load."""

    def __init__(self, channels: dict[int, grpc.aio.Channel], senders: list[Any]) -> None:
        self.channels = channels
        self.senders = senders
        self.acknowledged: dict[str, int] = {}  # key -> message id
        self.attempted: list[tuple[Any, str]] = []
        self.enough = asyncio.Event()
        self.killed = asyncio.Event()

    async def send(self, server: ServerProcess, sender: Any, key: str) -> None:
        mail = mail_service_pb2_grpc.MailServiceStub(self.channels[id(server)])
        response = await mail.SendMessage(
            mail_service_pb2.SendMessageRequest(
                to=["Rcpt"], subject=key, body=key, idempotency_key=key
            ),
            metadata=sender.md,
        )
        self.acknowledged[key] = response.message.id

    async def keep_sending(
        self, index: int, running: list[ServerProcess], survivors: list[ServerProcess]
    ) -> None:
        sender = self.senders[index]
        for n in range(60):
            # Through every server until the kill, then through the survivors only.
            pool = survivors if self.killed.is_set() else running
            server = pool[(index + n) % len(pool)]
            key = f"{sender.name}-{n}"
            self.attempted.append((sender, key))
            with contextlib.suppress(grpc.aio.AioRpcError):  # its server died under it
                await self.send(server, sender, key)
            if len(self.acknowledged) >= 30:
                self.enough.set()

    async def retry(self, server: ServerProcess) -> None:
        """Send once more what the kill left unanswered (each key lands once)."""
        for sender, key in self.attempted:
            if key not in self.acknowledged:
                await self.send(server, sender, key)


async def test_the_archive_fails_over_after_sigkill_of_the_leader_without_gaps_or_duplicates(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    shared = tmp_path / "archive.git"
    flags = ("--database-url", url, "--archive-dir", str(shared))
    flags += ("--archive-interval-seconds", "0.05")
    async with contextlib.AsyncExitStack() as stack:
        running: list[ServerProcess] = [
            await stack.enter_async_context(spawn_server(tmp_path / f"s{n}", *flags))
            for n in range(3)
        ]
        admin = await stack.enter_async_context(database(url))

        async def one_leader() -> list[tuple[str, int]]:
            return await holders(admin)

        ((name, _),) = await until(one_leader, "a worker leads")
        leader = next(s for s in running if name == f"agentmail-archive {s.process.pid}")
        survivors = [s for s in running if s is not leader]
        channels = {
            id(s): await stack.enter_async_context(open_channel(s.address)) for s in running
        }
        agents = agent_service_pb2_grpc.AgentServiceStub(channels[id(survivors[0])])
        project = await create_project(agents, "/work/archive-failover")
        await register_agent(agents, project, "Rcpt")
        load = Load(channels, [await register_agent(agents, project, f"F{i}") for i in range(3)])
        sending = asyncio.gather(*(load.keep_sending(i, running, survivors) for i in range(3)))
        await asyncio.wait_for(load.enough.wait(), WITHIN)
        worker = children(leader.process.pid)
        assert worker, "the leader has its archive worker"
        for pid in (leader.process.pid, *worker):  # the server and its worker, at once
            os.kill(pid, signal.SIGKILL)
        load.killed.set()
        await asyncio.wait_for(sending, WITHIN * 2)
        await load.retry(survivors[0])

        async def new_leader() -> list[tuple[str, int]]:
            found = await holders(admin)
            return found if found and found[0][0] != name else []

        ((successor, _),) = await until(new_leader, "another worker took over")
        assert successor in {f"agentmail-archive {s.process.pid}" for s in survivors}
        newest = max(load.acknowledged.values())

        async def caught_up() -> bool:
            position = await asyncio.to_thread(archived_position, shared)
            return position is not None and position.message_id >= newest

        await until(caught_up, "the new leader caught up")
        report = await asyncio.to_thread(verify, ArchiveDatabase(tmp_path, url), shared)
    assert len(load.acknowledged) == len({key for _, key in load.attempted})
    assert report.ok, report.details
    assert report.messages == len(load.acknowledged), "each key stored once"
    assert_archived_once(shared, project, set(load.acknowledged.values()))


async def test_an_agent_registered_through_a_follower_is_archived_within_the_poll(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    # Mail committed through a follower reaches the leader on the cross-process commit feed;
    # agent changes do not, so the leader finds them by polling (PostgresSource.poll_seconds,
    # 2 s; 30 s on SQLite). Ten seconds tells the two apart.
    url = backend_settings["database_url"]
    shared = tmp_path / "archive.git"
    async with (
        start_server(tmp_path / "a", archive_dir=shared) as one,
        start_server(tmp_path / "b", archive_dir=shared) as other,
    ):
        # Whichever worker took the lock first leads; the other server is the follower.
        leader = await until(lambda: _leader_of(one, other), "one of the two servers leads")
        follower = other if leader is one else one
        assert not follower.archive.stats().leader
        async with open_channel(follower.address) as channel:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            project = await create_project(agents, "/work/follower")
            await register_agent(agents, project, "Dora")
        async with database(url) as conn:
            cursor = await conn.execute("SELECT max(revision) FROM agents")
            row = await cursor.fetchone()
            assert row is not None
            newest = int(row[0])
        deadline = asyncio.get_running_loop().time() + 10.0
        while leader.archive.stats().archived_agent_revision < newest:
            assert asyncio.get_running_loop().time() < deadline, "the leader never archived Dora"
            await asyncio.sleep(POLL_SECONDS)


async def _leader_of(*servers: Any) -> Any:
    """The server whose archive worker leads, or None while none does."""
    leaders = [server for server in servers if server.archive.stats().leader]
    return leaders[0] if leaders else None
