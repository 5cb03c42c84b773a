"""Start-up on PostgreSQL: migrations, a newer schema refused, an unreachable server reported
without the URL's password, and the operations not ported yet failing with UNIMPLEMENTED."""

from __future__ import annotations

import logging
import pathlib
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from agentmail.v1 import (
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
)
from agentmail_server.storage.postgres.schema import SCHEMA_VERSION
from conftest import create_project, open_channel, register_agent

PASSWORD = "pw-never-shown-4711"


def with_password(url: str) -> str:
    """``url`` with a password added (the test server trusts 127.0.0.1, so it is ignored)."""
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{PASSWORD}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


async def test_a_restart_keeps_the_mail_and_the_schema_version(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with start_server(tmp_path / "one") as server, open_channel(server.address) as channel:
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        project = await create_project(agents, "/work/restart")
        alice = await register_agent(agents, project, "Alice")
        sent = await mail_service_pb2_grpc.MailServiceStub(channel).SendMessage(
            mail_service_pb2.SendMessageRequest(to=["Alice"], subject="kept", body="b"),
            metadata=alice.md,
        )
    async with start_server(tmp_path / "two") as server, open_channel(server.address) as channel:
        page = await mail_service_pb2_grpc.MailServiceStub(channel).ListInbox(
            mail_service_pb2.ListInboxRequest(), metadata=alice.md
        )
    assert [item.message.id for item in page.items] == [sent.message.id]
    with psycopg.connect(backend_settings["database_url"]) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]


async def test_a_schema_newer_than_the_server_is_refused(
    tmp_path: pathlib.Path, start_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with start_server(tmp_path / "first"):
        pass
    with psycopg.connect(backend_settings["database_url"], autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    newer = f"schema version 99 is newer than this server's {SCHEMA_VERSION}"
    with pytest.raises(RuntimeError, match=newer):
        async with start_server(tmp_path / "second"):
            pass


async def test_an_unreachable_database_fails_the_start_without_showing_the_password(
    tmp_path: pathlib.Path, start_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nowhere"
    with pytest.raises(RuntimeError) as failure:
        async with start_server(tmp_path / "data", database_url=url):
            pass
    assert "could not connect to PostgreSQL at 127.0.0.1:1/nowhere" in str(failure.value)
    assert PASSWORD not in str(failure.value)
    assert PASSWORD not in caplog.text


async def test_the_password_of_the_url_is_never_logged_or_shown(
    tmp_path: pathlib.Path,
    start_server: Any,
    backend_settings: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    url = with_password(backend_settings["database_url"])
    async with start_server(tmp_path / "data", database_url=url) as server:
        assert PASSWORD not in repr(server.config)
        async with open_channel(server.address) as channel:
            agents = agent_service_pb2_grpc.AgentServiceStub(channel)
            await register_agent(agents, await create_project(agents, "/work/pw"), "Alice")
    assert PASSWORD not in caplog.text
