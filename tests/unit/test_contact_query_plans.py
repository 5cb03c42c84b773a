"""Contact-policy enforcement reads by index seeks: every statement a judged send runs inside
the writer's transaction (traced from a real send on a migrated database) and every directory
read of this feature searches an index or a primary key, never scanning a table."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from agentmail_server.domain.contacts import ContactPolicy, SendRules
from agentmail_server.domain.drafts import Draft
from agentmail_server.domain.models import Importance, Recipient, RecipientKind
from agentmail_server.storage.sqlite import schema, writes

NOW = 1_700_000_000_000_000
# Tables a request path must never walk in full.
BIG_TABLES = ("agents", "messages", "deliveries", "contacts", "contact_exchanges", "notices")


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(connection)
    connection.execute("INSERT INTO projects VALUES (1, 'p', '/p', 0)")
    for agent_id in range(1, 6):
        connection.execute(
            "INSERT INTO agents (id, project_id, name, name_key, program, model,"
            " task_description, token_hash, created_at, updated_at, revision)"
            " VALUES (?, 1, ?, ?, '', '', '', ?, 0, 0, ?)",
            (agent_id, f"A{agent_id}", f"a{agent_id}", f"h{agent_id}", agent_id),
        )
    yield connection
    connection.close()


def draft(thread_id: str = "", broadcast: bool = False) -> Draft:
    return Draft(
        project_id=1,
        sender_id=1,
        sender_name="A1",
        recipients=tuple(Recipient(i, f"A{i}", RecipientKind.TO) for i in (2, 3, 4)),
        subject="s",
        body="b",
        importance=Importance.NORMAL,
        ack_required=False,
        thread_id=thread_id,
        topic="",
        idempotency_key="",
        rules=SendRules(default_policy=ContactPolicy.AUTO, broadcast_idle_micros=NOW),
        broadcast=broadcast,
    )


def traced_selects(conn: sqlite3.Connection, run: Draft) -> list[str]:
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    conn.execute("BEGIN")
    try:
        writes.insert_message(conn, run, NOW)
    finally:
        conn.execute("ROLLBACK")
        conn.set_trace_callback(None)
    return [s for s in statements if s.lstrip().upper().startswith("SELECT")]


def scans(conn: sqlite3.Connection, sql: str) -> list[str]:
    plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return [
        step
        for step in plan
        if any(re.match(rf"SCAN {table}\b", step) for table in BIG_TABLES)
        or re.match(r"SCAN [a-z]\b", step)  # an aliased big table
    ]


@pytest.mark.parametrize("thread_id", ["", "7"], ids=["new-thread", "in-thread"])
@pytest.mark.parametrize("broadcast", [False, True], ids=["explicit", "broadcast"])
def test_every_statement_of_a_judged_send_seeks(
    conn: sqlite3.Connection, thread_id: str, broadcast: bool
) -> None:
    # A thread A1 took part in, so the thread clause runs its second query too.
    conn.execute(
        "INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id, subject,"
        " importance, ack_required, topic, to_names, cc_names, bcc_names, created_at,"
        " body_size, body) VALUES (7, 1, 1, 'A1', '7', 's', 2, 0, '', 'A2', '', '', 0, 1, 'b')"
    )
    selects = traced_selects(conn, draft(thread_id, broadcast))
    assert any("contact_exchanges" in s for s in selects), "the AUTO window was consulted"
    assert any(re.search(r"\b(FROM|JOIN) contacts\b", s) for s in selects), "links consulted"
    for sql in selects:
        assert scans(conn, sql) == [], sql


def test_directory_reads_seek(conn: sqlite3.Connection) -> None:
    from agentmail_server.storage.sqlite.contacts import LINK_COLUMNS, LINK_FROM  # noqa: PLC0415

    link_page = (
        f"SELECT * FROM (SELECT {LINK_COLUMNS} FROM {LINK_FROM}"
        " WHERE c.from_agent = 1 AND c.id > 0 ORDER BY c.id LIMIT 3)"
        f" UNION ALL SELECT * FROM (SELECT {LINK_COLUMNS} FROM {LINK_FROM}"
        " WHERE c.to_agent = 1 AND c.id > 0 ORDER BY c.id LIMIT 3) ORDER BY 1 LIMIT 3"
    )
    by_capability = (
        "SELECT a.id FROM agent_capabilities c JOIN agents a ON a.id = c.agent_id"
        " JOIN projects p ON p.id = a.project_id WHERE c.project_id = 1"
        " AND c.capability_key = 'reviewer' AND c.agent_id > 0 ORDER BY c.agent_id LIMIT 3"
    )
    for sql in (link_page, by_capability):
        assert scans(conn, sql) == [], sql
