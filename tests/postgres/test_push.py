"""Cross-process push: a subscriber connected to one server process receives what is committed
through another on the same database — once each, in position order — with the LISTEN
connection lost and reopened too.

Real server processes (``python -m agentmail_server``) on the session's scratch database; every
wait is a read of the stream bounded by a timeout, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import psycopg
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc
from conftest import ServerProcess, create_project, open_channel, register_agent
from subscriptions.conftest import Stream, open_stream

SENDERS_PER_SERVER = 2
MESSAGES_PER_SENDER = 25
WITHIN = 30.0


@contextlib.asynccontextmanager
async def two_servers(
    tmp_path: pathlib.Path, spawn_server: Callable[..., Any], url: str
) -> AsyncIterator[tuple[ServerProcess, ServerProcess]]:
    """Servers A and B, each its own process, on the database at ``url``."""
    flags = ("--database-url", url, "--archive", "false")
    async with (
        spawn_server(tmp_path / "a", *flags) as first,
        spawn_server(tmp_path / "b", *flags) as second,
    ):
        yield first, second


async def send(channel: Any, sender: Any, subject: str, **fields: Any) -> int:
    """Send one message to Rcpt; its id."""
    mail = mail_service_pb2_grpc.MailServiceStub(channel)
    response = await mail.SendMessage(
        mail_service_pb2.SendMessageRequest(to=["Rcpt"], subject=subject, body="x", **fields),
        metadata=sender.md,
    )
    return int(response.message.id)


async def stream_ids(stream: Stream, count: int) -> list[int]:
    """The ids of the next ``count`` items of ``stream``."""
    return [item.message.id for item in await stream.items(count, within=WITHIN)]


async def test_mail_sent_through_either_server_reaches_a_subscriber_once_in_order(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with (
        two_servers(tmp_path, spawn_server, backend_settings["database_url"]) as (a, b),
        open_channel(a.address) as ch_a,
        open_channel(b.address) as ch_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
        project = await create_project(agents, "/work/push")
        rcpt = await register_agent(agents, project, "Rcpt")
        senders = [
            (channel, await register_agent(agents, project, f"S{s}x{i}"))
            for s, channel in enumerate((ch_a, ch_b))
            for i in range(SENDERS_PER_SERVER)
        ]
        async with open_stream(mail_service_pb2_grpc.MailServiceStub(ch_a), rcpt) as stream:
            assert await stream.until_live() == []

            async def send_all(channel: Any, sender: Any) -> list[int]:
                return [
                    await send(channel, sender, f"{sender.name}:{n}")
                    for n in range(MESSAGES_PER_SENDER)
                ]

            sending = asyncio.gather(*(send_all(ch, sender) for ch, sender in senders))
            total = len(senders) * MESSAGES_PER_SENDER
            received = await stream_ids(stream, total)
            sent = [message_id for ids in await sending for message_id in ids]
    assert received == sorted(received), "the stream goes in position order"
    assert len(set(received)) == total, "no message twice"
    assert set(received) == set(sent)


async def test_an_acknowledgement_through_another_server_reaches_the_sender_live(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with (
        two_servers(tmp_path, spawn_server, backend_settings["database_url"]) as (a, b),
        open_channel(a.address) as ch_a,
        open_channel(b.address) as ch_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
        project = await create_project(agents, "/work/push-ack")
        rcpt = await register_agent(agents, project, "Rcpt")
        sender = await register_agent(agents, project, "Sender")
        message_id = await send(ch_a, sender, "please ack", ack_required=True)
        async with open_stream(mail_service_pb2_grpc.MailServiceStub(ch_a), sender) as stream:
            await stream.until_live()
            await mail_service_pb2_grpc.MailServiceStub(ch_b).AcknowledgeMessage(
                mail_service_pb2.AcknowledgeMessageRequest(message_ids=[message_id]),
                metadata=rcpt.md,
            )
            event = await stream.agent_event(within=WITHIN)
    assert event.acknowledgement.message_id == message_id
    assert event.acknowledgement.acknowledged_by == "Rcpt"


async def test_a_subscriber_resuming_from_its_cursor_gets_exactly_the_rest(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    async with (
        two_servers(tmp_path, spawn_server, backend_settings["database_url"]) as (a, b),
        open_channel(a.address) as ch_a,
        open_channel(b.address) as ch_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
        project = await create_project(agents, "/work/push-resume")
        rcpt = await register_agent(agents, project, "Rcpt")
        sender_a = await register_agent(agents, project, "SenderA")
        sender_b = await register_agent(agents, project, "SenderB")
        mail_a = mail_service_pb2_grpc.MailServiceStub(ch_a)
        async with open_stream(mail_a, rcpt) as stream:
            await stream.until_live()
            first = [await send(ch_b, sender_b, f"b{n}") for n in range(5)]
            assert await stream_ids(stream, 5) == first
            cursor = stream.last_cursor
        # Disconnected: mail keeps coming through both servers.
        rest = []
        for n in range(6):
            rest.append(await send(ch_b if n % 2 else ch_a, sender_b if n % 2 else sender_a, "r"))
        async with open_stream(mail_a, rcpt, cursor=cursor) as resumed:
            backlog = [item.message.id for item in await resumed.until_live(within=WITHIN)]
            later = [await send(ch_b, sender_b, f"late{n}") for n in range(3)]
            live = await stream_ids(resumed, 3)
    assert backlog == rest
    assert live == later


async def listen_backend(url: str, server_pid: int) -> int | None:
    """The PostgreSQL backend pid of the LISTEN connection of the server process
    ``server_pid``, or None while it has none."""
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
            (f"agentmail-listen-{server_pid}",),
        )
        row = await cursor.fetchone()
    return None if row is None else int(row[0])


async def test_delivery_survives_the_loss_of_the_listen_connection(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    async with (
        two_servers(tmp_path, spawn_server, url) as (a, b),
        open_channel(a.address) as ch_a,
        open_channel(b.address) as ch_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
        project = await create_project(agents, "/work/push-reconnect")
        rcpt = await register_agent(agents, project, "Rcpt")
        sender = await register_agent(agents, project, "Sender")
        async with open_stream(mail_service_pb2_grpc.MailServiceStub(ch_a), rcpt) as stream:
            await stream.until_live()
            before = await send(ch_b, sender, "before")
            assert await stream_ids(stream, 1) == [before]
            listener = await listen_backend(url, a.process.pid)
            assert listener is not None, "server A holds a LISTEN connection"
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as admin:
                await admin.execute("SELECT pg_terminate_backend(%s)", (listener,))
            # Sent while A's listener is down or reconnecting: caught up after it LISTENs.
            during = [await send(ch_b, sender, f"during{n}") for n in range(3)]
            assert await stream_ids(stream, 3) == during
            # A's own mail still comes once, in order, between B's.
            mixed = [await send(ch_a if n % 2 else ch_b, sender, f"mixed{n}") for n in range(4)]
            assert await stream_ids(stream, 4) == mixed
        replaced = await listen_backend(url, a.process.pid)
    assert replaced not in (None, listener), "the LISTEN connection was reopened"
