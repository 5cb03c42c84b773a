"""Gap-free, commit-ordered positions with writers in several servers on one database.

A cursor built on a sequence would skip a message whose transaction commits after a higher
number is visible; the ``positions`` row makes assignment follow commit order (see
``storage/postgres/schema.py``). These tests try to break that: three servers, each with its
own writer connection, send to one recipient at once while a reader pages its inbox by cursor
on one of them, moving its cursor past everything it sees. Any skipped message would be missing
from what the reader collected.
"""

from __future__ import annotations

import asyncio
import pathlib
from typing import Any

from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2, mail_service_pb2_grpc
from conftest import create_project, open_channel, register_agent

SERVERS = 3
SENDERS_PER_SERVER = 2
MESSAGES_PER_SENDER = 40


async def test_a_cursor_reader_misses_nothing_while_three_servers_send(
    tmp_path: pathlib.Path, start_server: Any
) -> None:
    async with (
        start_server(tmp_path / "a") as first,
        start_server(tmp_path / "b") as second,
        start_server(tmp_path / "c") as third,
    ):
        servers = [first, second, third]
        async with (
            open_channel(first.address) as ch_a,
            open_channel(second.address) as ch_b,
            open_channel(third.address) as ch_c,
        ):
            channels = [ch_a, ch_b, ch_c]
            agents = agent_service_pb2_grpc.AgentServiceStub(ch_a)
            project = await create_project(agents, "/work/positions")
            rcpt = await register_agent(agents, project, "Rcpt")
            senders = [
                [
                    await register_agent(agents, project, f"S{s}x{i}")
                    for i in range(SENDERS_PER_SERVER)
                ]
                for s in range(len(servers))
            ]
            sent: list[int] = []

            async def send_all(channel: Any, sender: Any) -> None:
                mail = mail_service_pb2_grpc.MailServiceStub(channel)
                for seq in range(MESSAGES_PER_SENDER):
                    response = await mail.SendMessage(
                        mail_service_pb2.SendMessageRequest(
                            to=["Rcpt"], subject=f"{sender.name}:{seq}", body="x"
                        ),
                        metadata=sender.md,
                    )
                    sent.append(response.message.id)

            sending = asyncio.ensure_future(
                asyncio.gather(
                    *(
                        send_all(channel, sender)
                        for channel, group in zip(channels, senders, strict=True)
                        for sender in group
                    )
                )
            )
            reader = mail_service_pb2_grpc.MailServiceStub(ch_a)
            seen: list[int] = []
            cursor = ""
            for _ in range(10_000):  # bounded: the loop ends long before
                page = await reader.ListInbox(
                    mail_service_pb2.ListInboxRequest(page_size=7, page_token=cursor),
                    metadata=rcpt.md,
                )
                seen += [item.message.id for item in page.items]
                cursor = page.next_page_token or cursor
                if not page.items:
                    if sending.done():
                        break
                    # Nothing new yet: wait for more mail (or the end of sending), not a sleep.
                    await asyncio.wait({sending}, timeout=0.01)
            await sending
    total = SERVERS * SENDERS_PER_SERVER * MESSAGES_PER_SENDER
    assert len(sent) == total
    assert seen == sorted(seen), "pages go in id order"
    assert len(seen) == len(set(seen)), "no message twice"
    assert set(seen) == set(sent), f"missed {sorted(set(sent) - set(seen))[:10]}"
