"""Every statement of receipts and acknowledgement tracking is an index seek: SQLite's own query
plan for each, on a migrated database, searches an index (or a primary key) and never scans a
table or sorts in a temporary b-tree."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest
from agentmail_server.domain.models import Importance, Message
from agentmail_server.storage.sqlite import receipts, schema


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(connection)
    yield connection
    connection.close()


def plan(conn: sqlite3.Connection, query: receipts.Query) -> list[str]:
    sql, params = query
    return [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]


def message(message_id: int) -> Message:
    return Message(
        id=message_id,
        project_id=1,
        sender_id=1,
        sender_name="Alice",
        thread_id=str(message_id),
        subject="s",
        body=None,
        body_size=0,
        importance=Importance.NORMAL,
        ack_required=True,
        topic="",
        to=("Bob", "Carol"),
        cc=(),
        bcc=("Dave",),
        created_at=1,
    )


QUERIES = {
    "receipts": receipts.receipts_query([message(1), message(2)]),
    "pending page, oldest": receipts.pending_page_query(
        1, None, None, None, newest_first=False, limit=51
    ),
    "pending page, overdue, after": receipts.pending_page_query(
        1, (5, 6), None, 9, newest_first=False, limit=51
    ),
    "pending page, newest, before": receipts.pending_page_query(
        1, None, (5, 6), None, newest_first=True, limit=51
    ),
    "pending rows": receipts.pending_rows_query(1, (1, 2), (3, 4)),
    "unacknowledged": receipts.unacknowledged_query(2, None, 51),
    "unacknowledged, after": receipts.unacknowledged_query(2, 7, 51),
    "messages": receipts.messages_query([1, 2, 3], include_bodies=True),
}


@pytest.mark.parametrize("name", QUERIES)
def test_statement_is_an_index_seek(conn: sqlite3.Connection, name: str) -> None:
    steps = plan(conn, QUERIES[name])

    table_steps = [step for step in steps if not step.startswith(("LIST SUBQUERY", "SCAN json"))]
    assert table_steps, steps
    assert all(step.startswith("SEARCH") for step in table_steps), steps
    assert not any("TEMP B-TREE" in step for step in steps), steps


@pytest.mark.parametrize(
    ("name", "index"),
    [
        ("pending page, oldest", "deliveries_pending_acks"),
        ("pending page, overdue, after", "deliveries_pending_acks"),
        ("pending page, newest, before", "deliveries_pending_acks"),
        ("pending rows", "deliveries_pending_acks"),
        ("unacknowledged", "deliveries_unacknowledged"),
        ("unacknowledged, after", "deliveries_unacknowledged"),
    ],
)
def test_listings_seek_their_partial_index(conn: sqlite3.Connection, name: str, index: str) -> None:
    assert any(f"USING INDEX {index}" in step for step in plan(conn, QUERIES[name]))


def test_receipts_seek_agents_by_name_then_deliveries_by_key(conn: sqlite3.Connection) -> None:
    steps = plan(conn, QUERIES["receipts"])

    searches = [step for step in steps if step.startswith("SEARCH")]
    assert searches[0].startswith("SEARCH a USING INDEX"), steps
    assert "(project_id=? AND name_key=?)" in searches[0], steps
    assert searches[1] == "SEARCH d USING PRIMARY KEY (agent_id=? AND message_id=?)", steps
