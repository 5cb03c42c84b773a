"""Schema 9 copies each message's ack flag, sender and time onto its deliveries: mail stored by an
older server is tracked like new mail once migrated."""

from __future__ import annotations

import pathlib
import sqlite3
import time

from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import mail_service_pb2_grpc
from agentmail.v1 import receipts_pb2 as rpb
from agentmail_server.domain.names import name_key
from agentmail_server.services.auth import hash_token, new_token
from agentmail_server.storage.sqlite import schema

DATABASE = "agentmail.sqlite3"
NAMES = ("Alice", "Bob", "Carol")


def create_version_5_database(database: pathlib.Path, now: int) -> dict[str, str]:
    """A database as a schema-5 server left it: Alice sent message 1 (ack required) to Bob,
    who acknowledged it, and Carol, who did not; and message 2 (no ack asked) to Carol.
    Returns agent name -> token."""
    database.parent.mkdir(parents=True)
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        schema.migrate(conn, target=5)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO projects VALUES (1, 'legacy', '/legacy', ?)", (now,))
        tokens = {}
        for agent_id, name in enumerate(NAMES, start=1):
            tokens[name] = new_token()
            conn.execute(
                "INSERT INTO agents (id, project_id, name, name_key, program, model,"
                " task_description, token_hash, created_at, updated_at, revision)"
                " VALUES (?, 1, ?, ?, 'p', 'm', '', ?, ?, ?, ?)",
                (agent_id, name, name_key(name), hash_token(tokens[name]), now, now, agent_id),
            )
        for message_id, ack_required, to_names in ((1, 1, "Bob,Carol"), (2, 0, "Carol")):
            conn.execute(
                "INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id,"
                " subject, importance, ack_required, topic, to_names, cc_names, bcc_names,"
                " created_at, body_size, body) VALUES (?, 1, 1, 'Alice', ?, 'legacy', 2, ?, '',"
                " ?, '', '', ?, 4, 'body')",
                (message_id, str(message_id), ack_required, to_names, now),
            )
        conn.executemany(
            "INSERT INTO deliveries VALUES (?, ?, 1, 2, '', ?, ?)",
            [(2, 1, now, now), (3, 1, None, None), (3, 2, None, None)],
        )
        conn.execute("COMMIT")
    finally:
        conn.close()
    return tokens


async def test_a_version_5_database_is_tracked_after_migration(tmp_path, start_server, connect, md):
    data_dir = tmp_path / "data"
    now = time.time_ns() // 1000
    tokens = create_version_5_database(data_dir / DATABASE, now)
    async with start_server(data_dir) as server, connect(server.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        waiting = await mail.ListPendingAcks(
            rpb.ListPendingAcksRequest(), metadata=md(tokens["Alice"])
        )
        carols = await mail.ListUnacknowledged(
            rpb.ListUnacknowledgedRequest(), metadata=md(tokens["Carol"])
        )
        bobs = await mail.ListUnacknowledged(
            rpb.ListUnacknowledgedRequest(), metadata=md(tokens["Bob"])
        )
        receipts = await mail.GetMessage(
            pb.GetMessageRequest(message_id=1), metadata=md(tokens["Alice"])
        )

    assert [(i.message.id, [r.recipient for r in i.pending]) for i in waiting.items] == [
        (1, ["Carol"])
    ]
    assert waiting.items[0].acknowledged_count == 1
    assert [i.message.id for i in carols.items] == [1]
    assert list(bobs.items) == []
    assert [(r.recipient, r.HasField("ack_time")) for r in receipts.receipts] == [
        ("Bob", True),
        ("Carol", False),
    ]
    assert all(r.deliver_time.ToMicroseconds() == now for r in receipts.receipts)
    conn = sqlite3.connect(data_dir / DATABASE)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
        copied = conn.execute(
            "SELECT agent_id, message_id, ack_required, sender_id, created_at FROM deliveries"
            " ORDER BY agent_id, message_id"
        ).fetchall()
    finally:
        conn.close()
    assert copied == [(2, 1, 1, 1, now), (3, 1, 1, 1, now), (3, 2, 0, 1, now)]
