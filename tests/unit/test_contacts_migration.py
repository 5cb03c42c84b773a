"""Schema version 8 on a database written before it: agents keep following the server's default
policy, nobody is retired, and the mail already exchanged counts for the AUTO window."""

from __future__ import annotations

import sqlite3

from agentmail_server.storage.sqlite import schema


def test_version_8_backfills_exchanges_from_stored_mail() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    schema.migrate(conn, target=5)
    conn.execute("INSERT INTO projects VALUES (1, 'p', '/p', 0)")
    for agent_id in (1, 2, 3):
        conn.execute(
            "INSERT INTO agents (id, project_id, name, name_key, program, model,"
            " task_description, token_hash, created_at, updated_at, revision)"
            " VALUES (?, 1, ?, ?, '', '', '', ?, 0, 0, ?)",
            (agent_id, f"A{agent_id}", f"a{agent_id}", f"h{agent_id}", agent_id),
        )
    for message_id, sender, recipients, at in ((1, 2, (1, 2), 100), (2, 1, (2,), 300)):
        conn.execute(
            "INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id, subject,"
            " importance, ack_required, topic, to_names, cc_names, bcc_names, created_at,"
            " body_size, body) VALUES (?, 1, ?, 'x', ?, 's', 2, 0, '', '', '', '', ?, 1, 'b')",
            (message_id, sender, str(message_id), at),
        )
        for recipient in recipients:
            conn.execute(
                "INSERT INTO deliveries (agent_id, message_id, kind, importance, topic)"
                " VALUES (?, ?, 1, 2, '')",
                (recipient, message_id),
            )
    assert schema.migrate(conn) == 5
    # One row per unordered pair, at the latest exchange; a self-send is no exchange.
    assert conn.execute("SELECT * FROM contact_exchanges").fetchall() == [(1, 2, 300)]
    assert conn.execute(
        "SELECT count(*) FROM agents WHERE contact_policy IS NULL AND retired_at IS NULL"
        " AND last_active_at IS NULL AND status = '' AND capabilities = ''"
    ).fetchone() == (3,)
    assert conn.execute("SELECT count(*) FROM contacts").fetchone() == (0,)
