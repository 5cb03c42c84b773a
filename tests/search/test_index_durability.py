"""The search index after a crash and after an upgrade: a server killed with SIGKILL mid-send
restarts with every acknowledged message searchable exactly once and an FTS5 index that passes
its integrity check; a version-1 database is migrated on start and its old mail indexed."""

from __future__ import annotations

import asyncio
import pathlib
import signal
import sqlite3

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import (
    agent_service_pb2_grpc,
    mail_service_pb2_grpc,
    search_service_pb2_grpc,
)
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail_server.domain.names import name_key
from agentmail_server.services.auth import hash_token, new_token
from agentmail_server.storage.sqlite import schema

EXIT_SECONDS = 15
DATABASE = "agentmail.sqlite3"


def check_index(database: pathlib.Path) -> None:
    """FTS5's own integrity checks (index alone, then against the content table) and
    SQLite's, on the database file of a stopped server."""
    conn = sqlite3.connect(database)
    try:
        conn.execute("INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')")
        conn.execute("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)")
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
    finally:
        conn.close()


def stored_ids(database: pathlib.Path) -> set[int]:
    conn = sqlite3.connect(database)
    try:
        return {row[0] for row in conn.execute("SELECT id FROM messages")}
    finally:
        conn.close()


async def every_hit(stub, token: str, query: str) -> list[int]:
    """Ids of every hit, newest first, over as many pages as it takes."""
    ids: list[int] = []
    page_token = ""
    for _ in range(1000):
        page = await stub.SearchMessages(
            spb.SearchMessagesRequest(
                query=query,
                page_size=100,
                page_token=page_token,
                order=spb.SEARCH_ORDER_NEWEST,
            ),
            metadata=(("authorization", f"Bearer {token}"),),
        )
        ids += [hit.message.id for hit in page.hits]
        page_token = page.next_page_token
        if not page_token:
            return ids
    raise AssertionError("paging never ended")


@pytest.mark.slow
async def test_every_acknowledged_message_is_searchable_once_after_sigkill(tmp_path, spawn_server):
    data_dir = tmp_path / "data"
    acked: list[int] = []
    enough = asyncio.Event()
    async with spawn_server(data_dir) as first:
        async with grpc.aio.insecure_channel(first.address) as channel:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            project = await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/crash"))
            slug = project.project.slug
            alice = await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Alice"))
            bob = await agents.RegisterAgent(apb.RegisterAgentRequest(project=slug, name="Bob"))
            alice_md = (("authorization", f"Bearer {alice.agent_token}"),)

            async def sender(worker: int) -> None:
                for i in range(10_000):
                    request = mpb.SendMessageRequest(
                        to=["Bob"],
                        subject=f"crashword w{worker} n{i}",
                        body=f"body of crashword message POL-{worker}-{i}",
                    )
                    try:
                        sent = await mail.SendMessage(request, metadata=alice_md)
                    except grpc.aio.AioRpcError:
                        return  # the server died under this call
                    acked.append(sent.message.id)
                    if len(acked) >= 150:
                        enough.set()

            senders = [asyncio.create_task(sender(w)) for w in range(6)]
            await asyncio.wait_for(enough.wait(), 60)
            first.process.send_signal(signal.SIGKILL)  # sends are still in flight
            await asyncio.wait_for(asyncio.gather(*senders), 30)
        assert await asyncio.wait_for(first.process.wait(), EXIT_SECONDS) == -signal.SIGKILL

    async with spawn_server(data_dir) as second:
        async with grpc.aio.insecure_channel(second.address) as channel:
            search = search_service_pb2_grpc.SearchServiceStub(channel)
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            found = await every_hit(search, bob.agent_token, "crashword")
            assert len(found) == len(set(found)), "a message is indexed twice"
            assert set(acked) <= set(found), sorted(set(acked) - set(found))
            # Individual messages by their own words, too.
            for message_id in acked[:: max(1, len(acked) // 10)]:
                got = await mail.GetMessage(
                    mpb.GetMessageRequest(message_id=message_id),
                    metadata=(("authorization", f"Bearer {bob.agent_token}"),),
                )
                exact = await every_hit(search, bob.agent_token, got.message.subject)
                assert exact == [message_id]
            # The index keeps up with mail sent after the restart.
            after = await mail.SendMessage(
                mpb.SendMessageRequest(to=["Bob"], subject="crashword after", body="restart"),
                metadata=(("authorization", f"Bearer {alice.agent_token}"),),
            )
            again = await every_hit(search, bob.agent_token, "crashword")
            assert again == [after.message.id, *found]
        second.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.process.wait(), EXIT_SECONDS) == 0

    database = data_dir / DATABASE
    check_index(database)
    assert stored_ids(database) == set(again)


def create_version_1_database(database: pathlib.Path) -> dict[str, str]:
    """A database as the version-1 server left it: schema 1 and mail written with raw SQL.
    Returns agent name -> token."""
    database.parent.mkdir(parents=True)
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for statement in schema._split(schema._MIGRATIONS[1]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        now = 1_700_000_000_000_000
        conn.execute("INSERT INTO projects VALUES (1, 'legacy', '/legacy', ?)", (now,))
        tokens = {}
        for agent_id, name in enumerate(("Alice", "Bob", "Carol"), start=1):
            tokens[name] = new_token()
            conn.execute(
                "INSERT INTO agents VALUES (?, 1, ?, ?, 'p', 'm', '', ?, ?, ?)",
                (agent_id, name, name_key(name), hash_token(tokens[name]), now, now),
            )
        rows = [
            # id, sender, to, bcc, subject, body
            (1, 1, "Bob", "", "Legacy deploy plan", "roll out the auth migration"),
            (2, 2, "Alice", "", "Re: Legacy deploy plan", "TODO: check POL-358 first"),
            (3, 1, "Bob", "Carol", "Quiet note", "the auth keys rotate friday"),
            (4, 3, "Alice", "", "Unrelated", "lunch"),
        ]
        for message_id, sender, to, bcc, subject, body in rows:
            sender_name = ("Alice", "Bob", "Carol")[sender - 1]
            conn.execute(
                "INSERT INTO messages VALUES (?, 1, ?, ?, ?, ?, 2, 0, '', ?, '', ?, ?, ?, ?)",
                (
                    message_id,
                    sender,
                    sender_name,
                    "1" if message_id <= 2 else str(message_id),
                    subject,
                    to,
                    bcc,
                    now + message_id,
                    len(body.encode()),
                    body,
                ),
            )
            for recipient, kind in ((to, 1), (bcc, 3)):
                if recipient:
                    agent_id = ("Alice", "Bob", "Carol").index(recipient) + 1
                    conn.execute(
                        "INSERT INTO deliveries VALUES (?, ?, ?, 2, '', NULL, NULL)",
                        (agent_id, message_id, kind),
                    )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return tokens


async def test_a_version_1_database_is_migrated_and_its_mail_becomes_searchable(
    tmp_path, start_server, connect, md
):
    data_dir = tmp_path / "data"
    tokens = create_version_1_database(data_dir / DATABASE)
    async with start_server(data_dir) as server, connect(server.address) as channel:
        search = search_service_pb2_grpc.SearchServiceStub(channel)

        async def ids(name: str, query: str) -> list[int]:
            page = await search.SearchMessages(
                spb.SearchMessagesRequest(query=query), metadata=md(tokens[name])
            )
            return sorted(hit.message.id for hit in page.hits)

        assert await ids("Alice", "legacy") == [1, 2]
        assert await ids("Alice", "auth") == [1, 3]
        assert await ids("Bob", "auth") == [1, 3]
        assert await ids("Carol", "auth") == [3]
        assert await ids("Bob", "POL-358") == [2]
        assert await ids("Carol", "legacy OR lunch") == [4]
        page = await search.SearchMessages(
            spb.SearchMessagesRequest(query="quiet"), metadata=md(tokens["Bob"])
        )
        assert [list(h.message.bcc) for h in page.hits] == [[]]
        assert "[Quiet]" in page.hits[0].snippet
        # New mail lands after the old and is indexed too.
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        sent = await mail.SendMessage(
            mpb.SendMessageRequest(to=["Bob"], subject="fresh auth news"),
            metadata=md(tokens["Alice"]),
        )
        assert sent.message.id == 5
        assert await ids("Bob", "auth") == [1, 3, 5]
        summary = await mail.SummarizeThread(
            mpb.SummarizeThreadRequest(thread_id="1"), metadata=md(tokens["Bob"])
        )
        assert summary.message_count == 2
        assert [item.text for item in summary.action_items] == ["TODO: check POL-358 first"]
    check_index(data_dir / DATABASE)
