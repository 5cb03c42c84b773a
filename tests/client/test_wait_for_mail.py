"""``AgentmailClient.wait_for_mail`` against real servers: backlog at once, blocking until mail
is sent, timing out with the cursor unchanged, consecutive waits that lose and repeat nothing,
filters, bcc privacy, typed errors and a server restart mid-wait.

Every wait is bounded by ``asyncio.timeout``. Where a test needs the wait's stream to be open
before it sends, it watches the server's subscription count (no client-visible event exists);
nothing sleeps to let something happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import agentmail_client as am
import pytest
from agentmail_client._subscribe import BUFFER_SIZE

WAIT = 20.0
LONG = 3600.0  # a timeout no test may reach: returning "at once" means well within WAIT
# With reads this patient, a poll (timeout 0) that wrongly waited for the read deadline
# instead of the stream's first catch-up would overrun WAIT and fail.
PATIENT = am.Timeouts(read=LONG)
QUICK_CHANNEL = am.ChannelConfig(
    extra_options=(
        ("grpc.initial_reconnect_backoff_ms", 50),
        ("grpc.max_reconnect_backoff_ms", 100),
    )
)
FAST = am.ReconnectPolicy(initial_backoff=0.02, max_backoff=0.2)


@dataclasses.dataclass(frozen=True)
class Team:
    alice: am.AgentmailClient
    bob: am.AgentmailClient
    carol: am.AgentmailClient


async def register_team(client: am.AgentmailClient) -> Team:
    slug = (await client.ensure_project("/srv/repos/wait")).project.slug
    members = []
    for name in ("Alice", "Bob", "Carol"):
        member = client.with_token(None)
        await member.register_agent(slug, name)
        members.append(member)
    return Team(*members)


@pytest.fixture
async def client(server: Any) -> AsyncIterator[am.AgentmailClient]:
    async with am.AgentmailClient(
        server.address, channel=QUICK_CHANNEL, timeouts=PATIENT
    ) as opened:
        yield opened


@pytest.fixture
async def team(client: am.AgentmailClient) -> Team:
    return await register_team(client)


async def send(sender: am.AgentmailClient, subject: str, **fields: Any) -> int:
    fields.setdefault("to", "Bob")
    return (await sender.send_message(subject=subject, **fields)).message.id


def ids(result: am.WaitForMailResult) -> list[int]:
    return [item.message.id for item in result]


async def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Polls a server-side condition every 5 ms, for conditions with no event to wait on."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        if condition():
            return
        await asyncio.sleep(0.005)
    assert condition(), f"timed out waiting until {what}"


async def test_mail_already_after_the_cursor_is_returned_at_once(team: Team) -> None:
    async with asyncio.timeout(WAIT):
        start = await team.bob.wait_for_mail(0)
    # More than the subscription buffers: the whole backlog must be read through, not just
    # what happened to be received when the first item came.
    sent = [await send(team.alice, f"m{n}") for n in range(BUFFER_SIZE + 8)]
    async with asyncio.timeout(WAIT):
        backlog = await team.bob.wait_for_mail(LONG, cursor=start.cursor)
        polled = await team.bob.wait_for_mail(0, cursor=start.cursor)
    assert ids(backlog) == sent
    assert backlog.timed_out is False
    assert backlog.cursor == backlog.items[-1].cursor
    assert backlog.items[0].kind is am.RecipientKind.TO
    assert backlog.items[0].message.sender == "Alice"
    # timeout=0 polls: the backlog still comes back whole.
    assert polled == backlog
    hash(backlog)


async def test_without_a_cursor_the_wait_starts_at_the_inbox_tail(team: Team) -> None:
    await send(team.alice, "old news")
    async with asyncio.timeout(WAIT):
        first = await team.bob.wait_for_mail(0)
    assert first.items == ()
    assert first.timed_out is True
    # The cursor is the tail: nothing in the inbox comes after it.
    assert (await team.bob.list_inbox(page_token=first.cursor)).items == ()
    fresh = await send(team.alice, "fresh")
    async with asyncio.timeout(WAIT):
        second = await team.bob.wait_for_mail(LONG, cursor=first.cursor)
    assert ids(second) == [fresh]


async def test_a_wait_blocks_until_mail_is_sent_from_another_task(server: Any, team: Team) -> None:
    start = await team.bob.wait_for_mail(0)
    # The poll's stream is gone first, so that the one stream seen next is the wait's own.
    await wait_until(lambda: server.hub.stats().subscriptions == 0, "the poll's stream is closed")
    waiting = asyncio.create_task(team.bob.wait_for_mail(None, cursor=start.cursor))
    await wait_until(lambda: server.hub.stats().subscriptions == 1, "the wait's stream is open")
    assert not waiting.done()
    sent = await send(team.alice, "wake up")
    async with asyncio.timeout(WAIT):
        result = await waiting
    assert ids(result) == [sent]
    assert result.timed_out is False
    assert result.cursor == result.items[0].cursor
    # The stream was closed when the call returned.
    await wait_until(lambda: server.hub.stats().subscriptions == 0, "the stream is closed")


async def test_a_wait_without_mail_times_out_and_keeps_the_cursor(team: Team) -> None:
    async with asyncio.timeout(WAIT):
        start = await team.bob.wait_for_mail(0)
        polled = await team.bob.wait_for_mail(0, cursor=start.cursor)
    assert polled == am.WaitForMailResult((), start.cursor, timed_out=True)
    assert not polled
    loop = asyncio.get_running_loop()
    began = loop.time()
    async with asyncio.timeout(WAIT):
        empty = await team.bob.wait_for_mail(0.3, cursor=start.cursor)
    assert loop.time() - began >= 0.3
    assert empty == polled


async def test_filters_apply_and_a_filtered_out_message_is_not_skipped_later(
    team: Team,
) -> None:
    start = await team.bob.wait_for_mail(0)
    routine = await send(team.alice, "routine", body="details")
    async with asyncio.timeout(WAIT):
        urgent_only = await team.bob.wait_for_mail(0.2, cursor=start.cursor, urgent_only=True)
    assert urgent_only.timed_out
    assert urgent_only.cursor == start.cursor
    urgent = await send(team.alice, "fire", importance=am.Importance.URGENT, body="12345")
    async with asyncio.timeout(WAIT):
        fire = await team.bob.wait_for_mail(
            LONG, cursor=start.cursor, urgent_only=True, include_bodies=False
        )
        everything = await team.bob.wait_for_mail(LONG, cursor=urgent_only.cursor)
    assert ids(fire) == [urgent]
    assert (fire.items[0].message.body, fire.items[0].message.body_size_bytes) == ("", 5)
    assert ids(everything) == [routine, urgent]


async def test_a_filtered_wait_keeps_its_cursor_though_its_stream_moved_past_skipped_mail(
    tmp_path: pathlib.Path, start_server: Callable[..., Any]
) -> None:
    # Frequent heartbeats carry the stream's tail past the skipped message during the wait.
    async with (
        start_server(tmp_path / "data", heartbeat_seconds=0.05) as server,
        am.AgentmailClient(server.address, channel=QUICK_CHANNEL, timeouts=PATIENT) as client,
    ):
        team = await register_team(client)
        for from_a_cursor in (False, True):
            start_cursor = (await team.bob.wait_for_mail(0)).cursor if from_a_cursor else None
            await wait_until(lambda: server.hub.stats().subscriptions == 0, "no stream open")
            waiting = asyncio.create_task(
                team.bob.wait_for_mail(1.0, cursor=start_cursor, urgent_only=True)
            )
            await wait_until(lambda: server.hub.stats().subscriptions == 1, "the wait is open")
            routine = await send(team.alice, "routine")
            async with asyncio.timeout(WAIT):
                skipped = await waiting
                unfiltered = await team.bob.wait_for_mail(0, cursor=skipped.cursor)
            assert skipped.timed_out
            if start_cursor is not None:
                assert skipped.cursor == start_cursor
            # The cursor a filtered wait returns skips nothing for other filters.
            assert ids(unfiltered) == [routine]


async def test_the_cursor_is_the_last_message_returned_not_the_streams_tail(
    team: Team,
) -> None:
    start = await team.bob.wait_for_mail(0)
    sent = [await send(team.alice, f"m{n}") for n in range(3)]
    async with asyncio.timeout(WAIT):
        first = await team.bob.wait_for_mail(LONG, cursor=start.cursor, max_messages=2)
        rest = await team.bob.wait_for_mail(LONG, cursor=first.cursor, max_messages=2)
    assert ids(first) == sent[:2]
    assert first.cursor == first.items[-1].cursor
    assert ids(rest) == sent[2:]


async def test_consecutive_waits_while_mail_streams_in_lose_and_repeat_nothing(
    team: Team,
) -> None:
    start = await team.bob.wait_for_mail(0)
    total = 40
    sent: list[int] = []

    async def sender() -> None:
        for n in range(total):
            sent.append(await send(team.alice, f"burst {n}"))

    received: list[int] = []
    cursor = start.cursor
    calls = 0
    async with asyncio.timeout(3 * WAIT), asyncio.TaskGroup() as group:
        group.create_task(sender())
        while len(received) < total:
            # A small max_messages makes calls end while more mail is in flight.
            result = await team.bob.wait_for_mail(WAIT, cursor=cursor, max_messages=3)
            assert not result.timed_out
            received.extend(ids(result))
            cursor = result.cursor
            calls += 1
    assert received == sent
    assert calls >= total // 3
    async with asyncio.timeout(WAIT):
        assert (await team.bob.wait_for_mail(0, cursor=cursor)).timed_out


async def test_a_bcc_recipient_sees_only_itself_and_others_see_no_bcc(team: Team) -> None:
    bob_start = await team.bob.wait_for_mail(0)
    carol_start = await team.carol.wait_for_mail(0)
    await send(team.alice, "quiet", bcc="Carol")
    async with asyncio.timeout(WAIT):
        (to_bob,) = await team.bob.wait_for_mail(LONG, cursor=bob_start.cursor)
        (to_carol,) = await team.carol.wait_for_mail(LONG, cursor=carol_start.cursor)
    assert (to_bob.kind, to_bob.message.bcc) == (am.RecipientKind.TO, ())
    assert (to_carol.kind, to_carol.message.bcc) == (am.RecipientKind.BCC, ("Carol",))


async def test_wait_for_mail_errors_are_typed(server: Any, team: Team) -> None:
    async with asyncio.timeout(WAIT):
        with pytest.raises(am.Unauthenticated) as missing:
            await team.bob.with_token(None).wait_for_mail(LONG)
        with pytest.raises(am.Unauthenticated) as invalid:
            await team.bob.with_token("am_not-a-real-token").wait_for_mail(LONG)
        with pytest.raises(am.InvalidArgument) as bad_cursor:
            await team.bob.wait_for_mail(LONG, cursor="garbage")
    assert missing.value.reason == "TOKEN_MISSING"
    assert invalid.value.reason == "TOKEN_INVALID"
    assert bad_cursor.value.reason == "INVALID_PAGE_TOKEN"
    assert [v.field for v in bad_cursor.value.field_violations] == ["cursor"]
    with pytest.raises(ValueError, match="timeout"):
        await team.bob.wait_for_mail(-1)
    with pytest.raises(ValueError, match="max_messages"):
        await team.bob.wait_for_mail(0, max_messages=0)
    # Each failed wait closed its stream.
    await wait_until(lambda: server.hub.stats().subscriptions == 0, "no stream left open")


async def test_a_closed_client_refuses_to_wait(server: Any) -> None:
    client = am.AgentmailClient(server.address)
    team = await register_team(client)
    await client.close()
    with pytest.raises(RuntimeError, match="closed"):
        await team.bob.wait_for_mail(0)


async def test_an_unreachable_server_raises_unavailable_after_the_read_timeout(
    tmp_path: pathlib.Path, start_server: Callable[..., Any]
) -> None:
    async with start_server(tmp_path / "data") as gone:
        address = gone.address
    timeouts = am.Timeouts(read=0.5)
    async with (
        am.AgentmailClient(address, token="am_x", timeouts=timeouts, channel=QUICK_CHANNEL) as c,
        asyncio.timeout(WAIT),
    ):
        with pytest.raises(am.Unavailable):
            await c.wait_for_mail(0, reconnect=FAST)


async def test_a_server_restart_mid_wait_loses_nothing(
    tmp_path: pathlib.Path, server_on: Any, free_port: Any
) -> None:
    data_dir, port = tmp_path / "data", free_port()
    async with contextlib.AsyncExitStack() as outlives_the_servers:
        async with server_on(data_dir, port) as first:
            client = await outlives_the_servers.enter_async_context(
                am.AgentmailClient(first.address, channel=QUICK_CHANNEL)
            )
            team = await register_team(client)
            start = await team.bob.wait_for_mail(0)
            await wait_until(lambda: first.hub.stats().subscriptions == 0, "the poll is closed")
            waiting = asyncio.create_task(
                team.bob.wait_for_mail(LONG, cursor=start.cursor, reconnect=FAST)
            )
            await wait_until(lambda: first.hub.stats().subscriptions == 1, "the wait is open")
        # The stream ended with UNAVAILABLE SHUTTING_DOWN: the wait reconnects, not fails.
        assert not waiting.done()
        async with server_on(data_dir, port):
            sent = await send(team.alice, "after the restart")
            async with asyncio.timeout(WAIT):
                result = await waiting
    assert ids(result) == [sent]
    assert result.cursor == result.items[0].cursor
