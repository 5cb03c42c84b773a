"""Schema 10 moves each agent's token hash into ``agent_tokens``: tokens issued by an older
server keep working after the upgrade, and can then be rotated."""

from __future__ import annotations

import sqlite3
import time

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail_server.services.auth import hash_token
from integration.test_ack_migration import DATABASE, create_version_5_database


async def test_older_tokens_move_to_agent_tokens_and_keep_working(
    tmp_path, start_server, connect, md, expect_error
):
    data_dir = tmp_path / "data"
    tokens = create_version_5_database(data_dir / DATABASE, time.time_ns() // 1000)
    async with start_server(data_dir) as server, connect(server.address) as channel:
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        inbox = await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(tokens["Bob"]))
        rotated = await agents.RotateToken(apb.RotateTokenRequest(), metadata=md(tokens["Bob"]))
        await mail.ListInbox(mpb.ListInboxRequest(), metadata=md(rotated.agent_token))
        await expect_error(
            mail.ListInbox(mpb.ListInboxRequest(), metadata=md(tokens["Bob"])),
            grpc.StatusCode.UNAUTHENTICATED,
            "TOKEN_INVALID",
        )

    assert [item.message.id for item in inbox.items] == [1]
    conn = sqlite3.connect(data_dir / DATABASE)
    try:
        stored = dict(conn.execute("SELECT agent_id, token_hash FROM agent_tokens").fetchall())
    finally:
        conn.close()
    assert stored == {
        1: hash_token(tokens["Alice"]),
        2: hash_token(rotated.agent_token),
        3: hash_token(tokens["Carol"]),
    }
