"""The cursor key of a PostgreSQL deployment lives in the database: servers with different data
folders (as on different hosts) accept each other's cursors and page tokens, and the first
server to start stores the key of its own data folder, so an existing deployment's saved
cursors stay valid."""

from __future__ import annotations

import pathlib
from typing import Any

import psycopg
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc
from agentmail_server import cursor_key
from conftest import create_project, open_channel, register_agent


def file_key(data_dir: pathlib.Path) -> bytes:
    """The key in a data folder's ``cursor.key`` (128 hex digits and a newline)."""
    return bytes.fromhex((data_dir / cursor_key.KEY_FILE).read_text().strip())


def stored_key(url: str) -> list[bytes]:
    """The keys stored in the database (one row, or none)."""
    with psycopg.connect(url) as conn:
        return [bytes(row[0]) for row in conn.execute("SELECT key FROM cursor_key").fetchall()]


async def test_a_cursor_from_one_host_pages_on_another(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    host_a, host_b = tmp_path / "host-a", tmp_path / "host-b"
    async with (
        start_server(host_a) as first,
        start_server(host_b) as second,
        open_channel(first.address) as channel_a,
        open_channel(second.address) as channel_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel_a)
        project = await create_project(agents, "/work/hosts")
        bob = await register_agent(agents, project, "Bob")
        mail_a = mail_service_pb2_grpc.MailServiceStub(channel_a)
        mail_b = mail_service_pb2_grpc.MailServiceStub(channel_b)
        sent = [
            (
                await mail_a.SendMessage(
                    mail_service_pb2.SendMessageRequest(to=["Bob"], subject=f"m{n}"),
                    metadata=bob.md,
                )
            ).message.id
            for n in range(3)
        ]
        first_page = await mail_a.ListInbox(
            mail_service_pb2.ListInboxRequest(page_size=2), metadata=bob.md
        )
        rest = await mail_b.ListInbox(
            mail_service_pb2.ListInboxRequest(page_size=2, page_token=first_page.next_page_token),
            metadata=bob.md,
        )
    seen = [item.message.id for item in [*first_page.items, *rest.items]]
    assert sorted(seen) == sorted(sent) and len(set(seen)) == len(sent)
    # Each host made a key file of its own; the database's key is the first one's.
    assert file_key(host_a) != file_key(host_b)
    assert stored_key(backend_settings["database_url"]) == [file_key(host_a)]


async def test_a_later_server_adopts_the_stored_key_and_leaves_its_file_alone(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with start_server(tmp_path / "first"):
        pass
    stored = stored_key(backend_settings["database_url"])
    async with start_server(tmp_path / "second"):
        pass
    assert stored_key(backend_settings["database_url"]) == stored
    assert stored == [file_key(tmp_path / "first")]
    assert file_key(tmp_path / "second") != stored[0]
