"""Retention: mail older than ``retention_days`` goes (rows, deliveries, idempotency keys and
search entries), younger mail stays, ids are never handed out again, and the admin dry run
counts exactly what a purge removes. On both backends (``backend_matrix``); what is about the
SQLite files themselves (FTS5's own consistency check, the deferred indexer) runs on SQLite
only. PostgreSQL's own cases (several processes, the admin command on a database URL) are in
``tests/postgres/test_retention.py``."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import pathlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc, search_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import receipts_pb2 as rpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail_server.app import AgentmailServer
from agentmail_server.config import ServerConfig

DAY = 24 * 3600 * 1_000_000
DAYS = 7
OLD, YOUNG = 10, 4
BACKGROUND_SECONDS = 30


class Clock:
    """The retention policy's clock, set by the test."""

    def __init__(self) -> None:
        self.micros = 0

    def __call__(self) -> int:
        return self.micros


def auth(token: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {token}"),)


RetainingServer = Callable[..., contextlib.AbstractAsyncContextManager[AgentmailServer]]


@contextlib.asynccontextmanager
async def retaining(
    data_dir: pathlib.Path, clock: Clock, batch: int = 500, **settings: Any
) -> AsyncIterator[AgentmailServer]:
    """A server purging mail older than DAYS days by ``clock``, ``batch`` messages at a time."""
    config = ServerConfig(
        listen="127.0.0.1:0",
        data_dir=data_dir,
        grace_seconds=1.0,
        retention_days=DAYS,
        **settings,
    )
    server = AgentmailServer(config, retention_now=clock, retention_batch=batch)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def retaining_server(backend_settings: dict[str, Any]) -> RetainingServer:
    """``retaining`` on the backend the test runs on (every server of a test shares its
    PostgreSQL database, so a restart finds the mail)."""

    def start(
        data_dir: pathlib.Path, clock: Clock, batch: int = 500
    ) -> contextlib.AbstractAsyncContextManager[AgentmailServer]:
        return retaining(data_dir, clock, batch, **backend_settings)

    return start


def on_sqlite(server: AgentmailServer) -> bool:
    """Whether ``server`` stores its mail in the data folder's SQLite file."""
    return not server.config.uses_postgres


class Api:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        self.mail = mail_service_pb2_grpc.MailServiceStub(channel)
        self.search = search_service_pb2_grpc.SearchServiceStub(channel)
        self.alice = self.bob = ""

    async def team(self) -> None:
        project = await self.agents.EnsureProject(apb.EnsureProjectRequest(human_key="/r"))
        slug = project.project.slug
        for name in ("Alice", "Bob"):
            reply = await self.agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name=name)
            )
            setattr(self, name.lower(), reply.agent_token)

    async def send(self, subject: str, key: str = "") -> pb.Message:
        reply = await self.mail.SendMessage(
            pb.SendMessageRequest(
                to=["Bob"], subject=subject, body=f"{subject} body", idempotency_key=key
            ),
            metadata=auth(self.alice),
        )
        return reply.message

    async def inbox_ids(self) -> list[int]:
        page = await self.mail.ListInbox(
            pb.ListInboxRequest(page_size=100), metadata=auth(self.bob)
        )
        return sorted(item.message.id for item in page.items)

    async def search_ids(self, query: str) -> list[int]:
        reply = await self.search.SearchMessages(
            spb.SearchMessagesRequest(query=query, page_size=100), metadata=auth(self.bob)
        )
        return sorted(hit.message.id for hit in reply.hits)


def fts_is_consistent(database: pathlib.Path) -> bool:
    """FTS5's own check that the index matches its content table (rank 1: against the
    external content too, not only internally)."""
    with contextlib.closing(sqlite3.connect(database)) as conn:
        try:
            conn.execute(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1)"
            )
        except sqlite3.DatabaseError:
            return False
        return True


async def send_old_then_young(api: Api) -> tuple[list[pb.Message], list[pb.Message]]:
    old = [await api.send(f"oldword{i}", key=f"k{i}") for i in range(OLD)]
    young = [await api.send(f"youngword{i}") for i in range(YOUNG)]
    return old, young


async def test_purge_removes_old_mail_everywhere_and_keeps_young_mail(
    tmp_path, connect, expect_error, retaining_server
):
    clock = Clock()
    async with (
        retaining_server(tmp_path / "data", clock, batch=3) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        # Now is DAYS days after the first young message: everything before it is old.
        clock.micros = young[0].create_time.ToMicroseconds() + DAYS * DAY
        assert server.retention is not None

        purged = await server.retention.purge_once()

        assert (purged.messages, purged.first_id, purged.last_id) == (OLD, 1, old[-1].id)
        assert purged.deliveries == OLD
        assert purged.idempotency_keys == OLD
        assert await api.inbox_ids() == [m.id for m in young]
        assert await api.search_ids("oldword*") == []
        assert await api.search_ids("youngword*") == [m.id for m in young]
        await expect_error(
            api.mail.GetMessage(pb.GetMessageRequest(message_id=1), metadata=auth(api.bob)),
            grpc.StatusCode.NOT_FOUND,
            "MESSAGE_NOT_FOUND",
        )
        # The idempotency key went with its message: the same key sends anew.
        again = await api.send("oldword0", key="k0")
        assert again.id == young[-1].id + 1
        # A second run finds nothing more to purge.
        assert (await server.retention.purge_once()).messages == 0
    if on_sqlite(server):
        assert fts_is_consistent(tmp_path / "data" / "agentmail.sqlite3")


async def test_ids_are_never_reused_after_purging_the_newest_message(
    tmp_path, connect, retaining_server
):
    clock = Clock()
    data = tmp_path / "data"
    async with retaining_server(data, clock) as server, connect(server.address) as channel:
        api = Api(channel)
        await api.team()
        sent = [await api.send(f"s{i}") for i in range(3)]
        clock.micros = sent[-1].create_time.ToMicroseconds() + DAYS * DAY + 1
        assert server.retention is not None
        assert (await server.retention.purge_once()).messages == 3  # the newest one too

        assert (await api.send("next")).id == sent[-1].id + 1
        await api.send("and next")
        clock.micros += DAY  # purge everything again, then restart: still no reuse
        assert (await server.retention.purge_once()).messages == 2
    async with retaining_server(data, Clock()) as server, connect(server.address) as channel:
        api = Api(channel)
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        project = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/r"))).project
        api.alice = (
            await agents.RegisterAgent(apb.RegisterAgentRequest(project=project.slug, name="Carl"))
        ).agent_token
        assert (await api.send("after restart")).id == sent[-1].id + 3


async def test_the_background_run_purges_at_start(tmp_path, connect, retaining_server):
    data = tmp_path / "data"
    async with retaining_server(data, Clock()) as server, connect(server.address) as channel:
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        tokens = (api.alice, api.bob)
    clock = Clock()
    clock.micros = young[0].create_time.ToMicroseconds() + DAYS * DAY
    async with retaining_server(data, clock) as server, connect(server.address) as channel:
        retention = server.retention
        assert retention is not None
        deadline = time.monotonic() + BACKGROUND_SECONDS
        while retention.runs == 0:  # the first run starts with the server
            assert time.monotonic() < deadline, "no retention run"
            await asyncio.sleep(0.05)
        api = Api(channel)
        api.alice, api.bob = tokens
        assert await api.inbox_ids() == [m.id for m in young]
        assert retention.purged.messages == OLD
        assert retention.purged.last_id == old[-1].id


def iso(micros: int) -> str:
    return datetime.datetime.fromtimestamp(micros / 1e6, datetime.UTC).isoformat()


async def test_dry_run_beside_a_running_server_counts_what_the_purge_removes(
    tmp_path, start_server, connect, admin
):
    data = tmp_path / "data"
    async with start_server(data) as server, connect(server.address) as channel:
        api = Api(channel)
        await api.team()
        old, young = await send_old_then_young(api)
        now = iso(young[0].create_time.ToMicroseconds() + DAYS * DAY)
        dry = await admin(
            "retention", "--dry-run", "--days", str(DAYS), "--now", now, "--data-dir", str(data)
        )
        # Only a stopped server's folder is purged offline.
        refused = await admin(
            "retention", "--days", str(DAYS), "--now", now, "--data-dir", str(data)
        )
        assert await api.inbox_ids() == [m.id for m in [*old, *young]]

    assert dry.code == 0, dry.err
    expected = (
        f"{OLD} messages (ids 1-{OLD}, created before {iso(young[0].create_time.ToMicroseconds())}"
        f"), {OLD} deliveries, {OLD} idempotency keys, 0 coordination events and their search"
        " index entries"
    )
    assert dry.out.strip() == f"would purge {expected}"
    assert refused.code == 2
    assert "is in use by another agentmail server" in refused.err

    purged = await admin("retention", "--days", str(DAYS), "--now", now, "--data-dir", str(data))
    assert purged.code == 0, purged.err
    assert purged.out.strip() == f"purged {expected}"
    assert fts_is_consistent(data / "agentmail.sqlite3")
    after = await admin(
        "retention", "--dry-run", "--days", str(DAYS), "--now", now, "--data-dir", str(data)
    )
    assert after.out.startswith("would purge no message created before")


def notices_left(data_dir: pathlib.Path, backend_settings: dict[str, Any]) -> int:
    """The rows of the notices table, read from the backend's own storage."""
    sql = "SELECT count(*) FROM notices"
    if url := backend_settings.get("database_url"):
        import psycopg  # noqa: PLC0415 - only the PostgreSQL runs need the driver

        with psycopg.connect(url) as conn:
            row = conn.execute(sql).fetchone()
    else:
        with contextlib.closing(sqlite3.connect(data_dir / "agentmail.sqlite3")) as conn:
            row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


async def test_events_go_with_the_mail_around_them_and_positions_are_never_reused(
    tmp_path, connect, retaining_server, backend_settings
):
    clock = Clock()
    async with (
        retaining_server(tmp_path / "data", clock) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        sent = [await api.send(f"s{i}") for i in range(3)]
        # Bob acknowledges each: three events for Alice, positioned after the three messages.
        await api.mail.AcknowledgeMessage(
            pb.AcknowledgeMessageRequest(message_ids=[m.id for m in sent]), metadata=auth(api.bob)
        )
        young = await api.send("young")
        assert young.id == sent[-1].id + 4, "the events took positions 4-6"
        clock.micros = young.create_time.ToMicroseconds() + DAYS * DAY + 1
        assert server.retention is not None
        purged = await server.retention.purge_once()
        assert (purged.messages, purged.notices) == (4, 3)
        # Nothing is left, and the next id is still past every purged message and event.
        assert (await api.send("next")).id == young.id + 1
    assert notices_left(tmp_path / "data", backend_settings) == 0


async def test_purged_mail_leaves_the_acknowledgement_listings(tmp_path, connect, retaining_server):
    clock = Clock()
    async with (
        retaining_server(tmp_path / "data", clock) as server,
        connect(server.address) as channel,
    ):
        api = Api(channel)
        await api.team()
        sent = []
        for subject in ("old", "young"):
            reply = await api.mail.SendMessage(
                pb.SendMessageRequest(to=["Bob"], subject=subject, ack_required=True),
                metadata=auth(api.alice),
            )
            sent.append(reply.message)
        clock.micros = sent[1].create_time.ToMicroseconds() + DAYS * DAY
        assert server.retention is not None

        assert (await server.retention.purge_once()).messages == 1

        waiting = await api.mail.ListPendingAcks(
            rpb.ListPendingAcksRequest(), metadata=auth(api.alice)
        )
        unacked = await api.mail.ListUnacknowledged(
            rpb.ListUnacknowledgedRequest(), metadata=auth(api.bob)
        )
        assert [item.message.id for item in waiting.items] == [sent[1].id]
        assert [item.message.id for item in unacked.items] == [sent[1].id]


async def test_purging_mail_the_indexer_has_not_reached_keeps_the_index_right(tmp_path, connect):
    # No idle indexing: only a search (or 256 waiting messages, or the stop) indexes, so the
    # test decides which old messages are indexed when the purge comes.
    clock = Clock()
    config = ServerConfig(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "data",
        grace_seconds=1.0,
        retention_days=DAYS,
        search_index_idle_seconds=3600.0,
    )
    server = AgentmailServer(config, retention_now=clock, retention_batch=500)
    await server.start()
    try:
        async with connect(server.address) as channel:
            api = Api(channel)
            await api.team()
            indexed = [await api.send(f"oldword{i}") for i in range(3)]
            assert await api.search_ids("oldword*") == [m.id for m in indexed]  # indexes them
            unindexed = [await api.send(f"oldword{i}") for i in range(3, 6)]
            young = [await api.send(f"youngword{i}") for i in range(YOUNG)]
            clock.micros = young[0].create_time.ToMicroseconds() + DAYS * DAY
            assert server.retention is not None
            purged = await server.retention.purge_once()
            assert (purged.first_id, purged.last_id) == (indexed[0].id, unindexed[-1].id)
            assert await api.search_ids("oldword*") == []
            assert await api.search_ids("youngword*") == [m.id for m in young]
            assert fts_is_consistent(tmp_path / "data" / "agentmail.sqlite3")
    finally:
        await server.stop()
    assert fts_is_consistent(tmp_path / "data" / "agentmail.sqlite3")
