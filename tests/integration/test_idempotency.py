"""Idempotency keys are bound to content: the same key with the same request returns the
original message; the same key with different content fails with IDEMPOTENCY_KEY_REUSED and
commits nothing. A database from before the digest column (schema 3) is migrated on start."""

from __future__ import annotations

import pathlib
import sqlite3
import time
from typing import Any

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import mail_service_pb2_grpc, types_pb2
from agentmail_server.domain.names import name_key
from agentmail_server.services.auth import hash_token, new_token
from agentmail_server.storage.sqlite import schema

FAILED = grpc.StatusCode.FAILED_PRECONDITION
DATABASE = "agentmail.sqlite3"
BASE: dict[str, Any] = {
    "to": ["Bob"],
    "cc": ["Carol"],
    "subject": "deploy",
    "body": "ship it",
    "importance": types_pb2.IMPORTANCE_HIGH,
    "ack_required": True,
    "thread_id": "T-1",
    "topic": "ops",
}
# Each one changes a single part of the content bound to the key.
CHANGES: dict[str, dict[str, Any]] = {
    "another recipient": {"to": ["Dave"]},
    "an extra recipient": {"to": ["Bob", "Dave"]},
    "cc made to": {"to": ["Bob", "Carol"], "cc": []},
    "a bcc": {"bcc": ["Erin"]},
    "subject": {"subject": "rollback"},
    "body": {"body": "ship it!"},
    "importance": {"importance": types_pb2.IMPORTANCE_URGENT},
    "ack": {"ack_required": False},
    "thread": {"thread_id": "T-2"},
    "topic": {"topic": "dev"},
}


async def outbox_ids(mail: Any, agent: Any) -> list[int]:
    page = await mail.ListOutbox(pb.ListOutboxRequest(page_size=500), metadata=agent.md)
    return [m.id for m in page.messages]


@pytest.mark.parametrize("change", sorted(CHANGES))
async def test_a_key_reused_with_different_content_fails_and_commits_nothing(
    mail, alice, expect_error, change
):
    first = await mail.SendMessage(
        pb.SendMessageRequest(**BASE, idempotency_key="k"), metadata=alice.md
    )
    before = await outbox_ids(mail, alice)

    failure = await expect_error(
        mail.SendMessage(
            pb.SendMessageRequest(**{**BASE, **CHANGES[change]}, idempotency_key="k"),
            metadata=alice.md,
        ),
        FAILED,
        "IDEMPOTENCY_KEY_REUSED",
        metadata={"messageId": str(first.message.id)},
    )

    assert "reused with different content" in failure.message
    assert await outbox_ids(mail, alice) == before


async def test_the_same_content_is_deduplicated_however_recipients_are_spelled(mail, alice):
    first = await mail.SendMessage(
        pb.SendMessageRequest(**BASE, idempotency_key="k"), metadata=alice.md
    )
    # Names are case-insensitive and duplicates collapse: the same resolved recipients.
    again = await mail.SendMessage(
        pb.SendMessageRequest(
            **{**BASE, "to": ["bob", "BOB"], "cc": ["carol"]}, idempotency_key="k"
        ),
        metadata=alice.md,
    )

    assert again.deduplicated
    assert again.message == first.message
    assert await outbox_ids(mail, alice) == [first.message.id]


async def test_a_broadcast_retry_matches_even_after_a_new_agent_registers(mail, register, alice):
    request = pb.SendMessageRequest(broadcast=True, subject="all hands", idempotency_key="b")
    first = await mail.SendMessage(request, metadata=alice.md)
    await register(alice.project, "Frank")

    again = await mail.SendMessage(request, metadata=alice.md)

    assert again.deduplicated
    assert again.message.id == first.message.id


async def test_a_reply_key_is_bound_to_the_message_replied_to(mail, send, alice, bob, expect_error):
    one = await send(alice, to=["Bob"], subject="one")
    two = await send(alice, to=["Bob"], subject="two")
    reply = pb.ReplyMessageRequest(message_id=one.id, body="ok", idempotency_key="r")
    first = await mail.ReplyMessage(reply, metadata=bob.md)

    same = await mail.ReplyMessage(reply, metadata=bob.md)
    assert same.deduplicated and same.message.id == first.message.id
    for changed in (
        pb.ReplyMessageRequest(message_id=two.id, body="ok", idempotency_key="r"),
        pb.ReplyMessageRequest(message_id=one.id, body="no", idempotency_key="r"),
        pb.ReplyMessageRequest(
            message_id=one.id, body="ok", reply_all=True, to=["Carol"], idempotency_key="r"
        ),
    ):
        await expect_error(
            mail.ReplyMessage(changed, metadata=bob.md), FAILED, "IDEMPOTENCY_KEY_REUSED"
        )
    assert await outbox_ids(mail, bob) == [first.message.id]


def create_version_3_database(database: pathlib.Path, now: int) -> dict[str, str]:
    """A database as a schema-3 server left it: Alice sent message 1 to Bob with key "old".
    Returns agent name -> token."""
    database.parent.mkdir(parents=True)
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        schema.migrate(conn, target=3)
        conn.execute("BEGIN")
        conn.execute("INSERT INTO projects VALUES (1, 'legacy', '/legacy', ?)", (now,))
        tokens = {}
        for agent_id, name in enumerate(("Alice", "Bob"), start=1):
            tokens[name] = new_token()
            conn.execute(
                "INSERT INTO agents (id, project_id, name, name_key, program, model,"
                " task_description, token_hash, created_at, updated_at, revision)"
                " VALUES (?, 1, ?, ?, 'p', 'm', '', ?, ?, ?, ?)",
                (agent_id, name, name_key(name), hash_token(tokens[name]), now, now, agent_id),
            )
        conn.execute(
            "INSERT INTO messages (id, project_id, sender_id, sender_name, thread_id, subject,"
            " importance, ack_required, topic, to_names, cc_names, bcc_names, created_at,"
            " body_size, body) VALUES (1, 1, 1, 'Alice', '1', 'legacy', 2, 0, '', 'Bob', '', '',"
            " ?, 4, 'body')",
            (now,),
        )
        conn.execute(
            "INSERT INTO deliveries VALUES (2, 1, 1, 2, '', NULL, NULL)",
        )
        conn.execute("INSERT INTO idempotency_keys VALUES (1, 'old', 1, ?)", (now,))
        conn.execute("COMMIT")
        assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    finally:
        conn.close()
    return tokens


async def test_a_version_3_database_is_migrated_and_keeps_its_keys(
    tmp_path, start_server, connect, md, expect_error
):
    data_dir = tmp_path / "data"
    # Within the 24-hour window of the server's clock, whatever the machine's speed.
    tokens = create_version_3_database(data_dir / DATABASE, time.time_ns() // 1000)
    alice = md(tokens["Alice"])
    async with start_server(data_dir) as server, connect(server.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        # A key stored before the digest existed keeps the old rule: any repeat in the window
        # returns the original, since what it was first sent with is unknown.
        legacy = await mail.SendMessage(
            pb.SendMessageRequest(to=["Bob"], subject="other", idempotency_key="old"),
            metadata=alice,
        )
        assert legacy.deduplicated and legacy.message.id == 1
        # New keys are bound to their content.
        request = pb.SendMessageRequest(to=["Bob"], subject="new", idempotency_key="new")
        first = await mail.SendMessage(request, metadata=alice)
        again = await mail.SendMessage(request, metadata=alice)
        assert (first.deduplicated, again.deduplicated) == (False, True)
        assert again.message.id == first.message.id == 2
        await expect_error(
            mail.SendMessage(
                pb.SendMessageRequest(to=["Bob"], subject="changed", idempotency_key="new"),
                metadata=alice,
            ),
            FAILED,
            "IDEMPOTENCY_KEY_REUSED",
        )
    conn = sqlite3.connect(data_dir / DATABASE)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (schema.SCHEMA_VERSION,)
        digests = dict(conn.execute("SELECT key, digest FROM idempotency_keys"))
    finally:
        conn.close()
    assert digests["old"] is None
    assert digests["new"] and len(digests["new"]) == 64
