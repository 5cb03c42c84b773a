"""Several server processes writing one PostgreSQL database at once: cursors stay gap-free and
exactly-once across processes, and a server killed mid-load loses no acknowledged send.

Real server processes on the session's scratch database. The pager polls for the tail with a
short pause between empty pages (a cadence, not a wait for some event: what it must see is
decided by the sets compared at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import signal
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from agentmail.v1 import (
    agent_service_pb2_grpc,
    mail_service_pb2,
    mail_service_pb2_grpc,
    types_pb2,
)
from conftest import ServerProcess, create_project, open_channel, register_agent
from subscriptions.conftest import open_stream

SERVERS = 3
SENDERS_PER_SERVER = 3
MESSAGES_PER_SENDER = 15
PAGE = 7
WITHIN = 60.0
POLL_SECONDS = 0.02


@contextlib.asynccontextmanager
async def servers(
    tmp_path: pathlib.Path, spawn_server: Callable[..., Any], url: str, count: int
) -> AsyncIterator[list[ServerProcess]]:
    flags = ("--database-url", url, "--archive", "false")
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(spawn_server(tmp_path / f"s{n}", *flags))
            for n in range(count)
        ]


async def page_everything(mail: Any, reader: Any, total: int) -> list[int]:
    """Page Rcpt's inbox oldest first, from the start, until ``total`` items were seen; the ids
    in the order pages returned them."""
    seen: list[int] = []
    token = ""
    while len(seen) < total:
        page = await mail.ListInbox(
            mail_service_pb2.ListInboxRequest(
                page_size=PAGE,
                page_token=token,
                order=mail_service_pb2.INBOX_ORDER_OLDEST_FIRST,
                view=types_pb2.MESSAGE_VIEW_ENVELOPE,
            ),
            metadata=reader.md,
        )
        if not page.items:
            await asyncio.sleep(POLL_SECONDS)
            continue
        seen.extend(item.message.id for item in page.items)
        token = page.items[-1].cursor
    return seen


async def test_writers_in_three_processes_one_pager_one_subscriber_see_the_same_set(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    async with (
        servers(tmp_path, spawn_server, url, SERVERS) as running,
        contextlib.AsyncExitStack() as stack,
    ):
        channels = [await stack.enter_async_context(open_channel(s.address)) for s in running]
        agents = agent_service_pb2_grpc.AgentServiceStub(channels[0])
        project = await create_project(agents, "/work/scale-out")
        rcpt = await register_agent(agents, project, "Rcpt")
        senders = [
            (channel, await register_agent(agents, project, f"S{s}x{i}"))
            for s, channel in enumerate(channels)
            for i in range(SENDERS_PER_SERVER)
        ]
        total = len(senders) * MESSAGES_PER_SENDER

        async def send_all(channel: Any, sender: Any) -> list[int]:
            mail = mail_service_pb2_grpc.MailServiceStub(channel)
            ids = []
            for n in range(MESSAGES_PER_SENDER):
                response = await mail.SendMessage(
                    mail_service_pb2.SendMessageRequest(to=["Rcpt"], subject=f"{n}", body="x"),
                    metadata=sender.md,
                )
                ids.append(response.message.id)
            return ids

        subscriber_mail = mail_service_pb2_grpc.MailServiceStub(channels[0])
        async with open_stream(subscriber_mail, rcpt) as stream:
            assert await stream.until_live() == []
            paging = asyncio.create_task(
                page_everything(mail_service_pb2_grpc.MailServiceStub(channels[-1]), rcpt, total)
            )
            sent_lists = await asyncio.gather(*(send_all(ch, s) for ch, s in senders))
            streamed = [item.message.id for item in await stream.items(total, within=WITHIN)]
            paged = await asyncio.wait_for(paging, WITHIN)
    sent = sorted(i for ids in sent_lists for i in ids)
    assert len(set(sent)) == total
    assert streamed == sent, "the subscriber saw every message once, in position order"
    assert paged == sent, "the pager saw every message once, in order, across its cursors"


async def test_a_server_killed_mid_load_loses_no_acknowledged_send(
    tmp_path: pathlib.Path, spawn_server: Any, backend_settings: dict[str, Any]
) -> None:
    url = backend_settings["database_url"]
    async with (
        servers(tmp_path, spawn_server, url, 2) as (survivor, victim),
        open_channel(survivor.address) as ch_a,
        open_channel(victim.address) as ch_b,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
        project = await create_project(agents, "/work/kill")
        rcpt = await register_agent(agents, project, "Rcpt")
        senders = [await register_agent(agents, project, f"K{i}") for i in range(4)]
        acknowledged: dict[str, int] = {}  # idempotency key -> message id
        attempted: list[tuple[Any, str]] = []
        enough = asyncio.Event()

        async def send_until_killed(sender: Any) -> None:
            mail = mail_service_pb2_grpc.MailServiceStub(ch_b)
            for n in range(200):
                key = f"{sender.name}-{n}"
                attempted.append((sender, key))
                try:
                    response = await mail.SendMessage(
                        mail_service_pb2.SendMessageRequest(
                            to=["Rcpt"], subject=key, body="x", idempotency_key=key
                        ),
                        metadata=sender.md,
                    )
                except grpc.aio.AioRpcError:
                    return  # the server died under this call: its fate is unknown
                acknowledged[key] = response.message.id
                if len(acknowledged) >= 40:
                    enough.set()

        sending = asyncio.gather(*(send_until_killed(s) for s in senders))
        await asyncio.wait_for(enough.wait(), WITHIN)
        victim.process.send_signal(signal.SIGKILL)
        await asyncio.wait_for(sending, WITHIN)
        # Retry what was not acknowledged through the survivor: each key lands once.
        mail_a = mail_service_pb2_grpc.MailServiceStub(ch_a)
        for sender, key in attempted:
            if key in acknowledged:
                continue
            await mail_a.SendMessage(
                mail_service_pb2.SendMessageRequest(
                    to=["Rcpt"], subject=key, body="x", idempotency_key=key
                ),
                metadata=sender.md,
            )
        subjects: dict[str, list[int]] = {}
        for message_id in await page_everything(mail_a, rcpt, len(attempted)):
            got = await mail_a.GetMessage(
                mail_service_pb2.GetMessageRequest(message_id=message_id), metadata=rcpt.md
            )
            subjects.setdefault(got.message.subject, []).append(message_id)
    assert all(len(ids) == 1 for ids in subjects.values()), "a key stored twice"
    assert set(subjects) == {key for _, key in attempted}
    for key, message_id in acknowledged.items():
        assert subjects[key] == [message_id], f"acknowledged {key} is not the stored message"
