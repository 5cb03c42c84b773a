"""Bcc privacy on SubscribeInbox's replay paths, which read storage rather than the live buffer.

A stream replays from storage when it resumes from a cursor (a new stream, or one reconnecting
after a drop) and when its live buffer overflows (it then catches up after its last delivered
message). On every such path a to-recipient sees an
empty ``bcc`` and a bcc recipient sees only itself, as the MailService contract says; comparing
message ids alone would not notice a replay that leaks the bcc list. (The typed client's
reconnection is covered in tests/client/test_subscribe.py.)
"""

from __future__ import annotations

import asyncio
from typing import Any

from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc, types_pb2

# Bursts of concurrent sends tried before giving up on seeing the buffer overflow.
MAX_BURSTS = 50
BURST = 16


def assert_private_view(reader: str, item: types_pb2.InboxItem) -> None:
    """``item`` as ``reader`` may see it: Alice to Bob, bcc Carol and Dave."""
    message = item.message
    assert list(message.to) == ["Bob"], message
    if reader == "Bob":
        assert list(message.bcc) == [], f"Bob must not see the bcc list: {message}"
        assert item.kind == types_pb2.RECIPIENT_KIND_TO
    else:
        assert list(message.bcc) == [reader], f"{reader} must see only itself: {message}"
        assert item.kind == types_pb2.RECIPIENT_KIND_BCC
    others = {"Carol", "Dave"} - {reader}
    wire = item.SerializeToString()
    for other in others:
        assert other.encode() not in wire, f"{other} leaked to {reader}"


async def cursors_then_bcc_mail(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any, count: int
) -> tuple[dict[str, str], list[Any]]:
    """Each reader's tail cursor, then ``count`` messages from Alice to Bob, bcc Carol and
    Dave, sent after those cursors."""
    starts = {}
    for reader in ("Bob", "Carol", "Dave"):
        async with subscribe(mail_stub, team[reader]) as stream:
            await stream.until_live()
            starts[reader] = stream.tail_cursor
    sent = [
        await send(mail_stub, team["Alice"], to=["Bob"], bcc=["Carol", "Dave"], subject=f"s{n}")
        for n in range(count)
    ]
    return starts, sent


async def test_resuming_from_a_cursor_replays_each_readers_own_view(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    starts, sent = await cursors_then_bcc_mail(mail_stub, team, subscribe, send, 3)
    assert all(sorted(m.bcc) == ["Carol", "Dave"] for m in sent), "the sender sees every name"

    for reader, cursor in starts.items():
        async with subscribe(mail_stub, team[reader], cursor=cursor) as stream:
            replayed = await stream.until_live()
        assert [i.message.id for i in replayed] == [m.id for m in sent]
        for item in replayed:
            assert_private_view(reader, item)


async def test_reconnecting_mid_replay_resumes_with_each_readers_own_view(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    starts, sent = await cursors_then_bcc_mail(mail_stub, team, subscribe, send, 4)

    for reader, cursor in starts.items():
        # Drop the stream after the first replayed item, then reconnect from its cursor.
        async with subscribe(mail_stub, team[reader], cursor=cursor) as dropped:
            first = await dropped.item()
        async with subscribe(mail_stub, team[reader], cursor=dropped.last_cursor) as stream:
            rest = await stream.until_live()
        assert [i.message.id for i in [first, *rest]] == [m.id for m in sent]
        for item in [first, *rest]:
            assert_private_view(reader, item)


async def test_an_overflow_catch_up_replays_each_readers_own_view(
    tmp_path: Any, start_server: Any, connect: Any, subscribe: Any, register_agents: Any, send: Any
) -> None:
    # A buffer of one: a group commit of two or more messages overflows it, and the stream
    # then re-reads them from storage.
    async with (
        start_server(tmp_path / "d", subscriber_buffer=1) as srv,
        connect(srv.address) as channel,
    ):
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        team = await register_agents(
            agent_service_pb2_grpc.AgentServiceStub(channel), ("Alice", "Bob", "Carol", "Dave")
        )
        readers = ("Bob", "Carol", "Dave")
        streams = {}
        sent: list[types_pb2.Message] = []
        async with (
            subscribe(mail, team["Bob"]) as streams["Bob"],
            subscribe(mail, team["Carol"]) as streams["Carol"],
            subscribe(mail, team["Dave"]) as streams["Dave"],
        ):
            for stream in streams.values():
                await stream.until_live()
            # Whether a burst lands in one group commit is up to the scheduler: send bursts
            # until the hub reports a catch-up of all three streams (bounded).
            for _ in range(MAX_BURSTS):
                sent += await asyncio.gather(
                    *(
                        send(mail, team["Alice"], to=["Bob"], bcc=["Carol", "Dave"], subject="x")
                        for _ in range(BURST)
                    )
                )
                if srv.hub.stats().overflows >= len(readers):
                    break
            else:
                raise AssertionError(f"no overflow in {MAX_BURSTS} bursts: {srv.hub.stats()}")
            received = {reader: await streams[reader].items(len(sent)) for reader in readers}
        stats = srv.hub.stats()

    assert stats.catch_ups >= len(readers), stats
    ids = sorted(m.id for m in sent)
    for reader in readers:
        assert [i.message.id for i in received[reader]] == ids, "all, in order, no dup"
        for item in received[reader]:
            assert_private_view(reader, item)


async def test_a_sender_in_its_own_inbox_sees_every_bcc_name_live_and_replayed(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice = team["Alice"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
        sent = await send(mail_stub, alice, to=["Alice", "Bob"], bcc=["Carol", "Dave"])
        live = await stream.item()
    async with subscribe(mail_stub, alice, cursor=start) as stream:
        replayed = await stream.until_live()

    assert [i.message.id for i in (live, *replayed)] == [sent.id, sent.id]
    for item in (live, *replayed):
        assert sorted(item.message.bcc) == ["Carol", "Dave"], item
        assert item.kind == types_pb2.RECIPIENT_KIND_TO
