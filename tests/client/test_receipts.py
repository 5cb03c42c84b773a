"""Receipts and acknowledgement tracking through the typed client, against a real server on
port 0 reading a ManualClock: typed models, paging, the overdue threshold, typed errors."""

from __future__ import annotations

import dataclasses
import datetime
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import agentmail_client as am
import pytest
from agentmail_server.domain.clock import ManualClock

START = datetime.datetime(2025, 6, 15, 15, 6, 40, tzinfo=datetime.UTC)
START_MICROS = int(START.timestamp()) * 1_000_000


@dataclasses.dataclass(frozen=True)
class Team:
    alice: am.AgentmailClient
    bob: am.AgentmailClient
    carol: am.AgentmailClient


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START_MICROS)


@pytest.fixture
async def client(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any
) -> AsyncIterator[am.AgentmailClient]:
    async with (
        start_server(tmp_path / "data", clock=clock) as server,
        am.AgentmailClient(server.address) as opened,
    ):
        yield opened


@pytest.fixture
async def team(client: am.AgentmailClient) -> Team:
    project = (await client.ensure_project("/srv/repos/receipts")).project
    members = []
    for name in ("Alice", "Bob", "Carol"):
        member = client.with_token(None)
        await member.register_agent(project.slug, name)
        members.append(member)
    return Team(*members)


async def test_get_message_gives_the_sender_typed_receipts(team: Team, clock: ManualClock) -> None:
    sent = (
        await team.alice.send_message(to="Bob", bcc="Carol", subject="deploy", ack_required=True)
    ).message
    clock.advance(seconds=60)
    await team.bob.acknowledge_message(sent.id)

    mine = await team.alice.get_message(sent.id)
    theirs = await team.bob.get_message(sent.id)

    later = START + datetime.timedelta(seconds=60)
    assert mine.receipts == (
        am.Receipt("Bob", am.RecipientKind.TO, START, later, later),
        am.Receipt("Carol", am.RecipientKind.BCC, START, None, None),
    )
    assert [(r.is_read, r.is_acknowledged) for r in mine.receipts] == [(True, True), (False, False)]
    assert theirs.receipts == ()
    assert theirs.delivery is not None and theirs.delivery.is_acknowledged


async def test_list_outbox_returns_receipts_only_when_asked(team: Team) -> None:
    one = (await team.alice.send_message(to="Bob", subject="one")).message
    two = (await team.alice.send_message(to=["Bob", "Carol"], subject="two")).message
    await team.carol.mark_read(two.id)

    plain = await team.alice.list_outbox()
    asked = await team.alice.list_outbox(include_receipts=True)

    assert isinstance(plain, am.Page) and plain.receipts == ()
    assert [m.id for m in asked] == [two.id, one.id]
    assert [entry.message_id for entry in asked.receipts] == [two.id, one.id]
    assert [(r.recipient, r.is_read) for r in asked.receipts_for(two.id)] == [
        ("Bob", False),
        ("Carol", True),
    ]
    assert asked.receipts_for(12345) == ()


async def test_list_pending_acks_pages_and_flags_overdue(team: Team, clock: ManualClock) -> None:
    sent = []
    for index in range(3):
        message = await team.alice.send_message(
            to=["Bob", "Carol"], subject=f"ack {index}", ack_required=True
        )
        sent.append(message.message.id)
        clock.advance(seconds=1200)
    await team.bob.acknowledge_message(sent[0])

    pages: list[am.PendingAcksPage] = []
    token = ""
    while True:
        page = await team.alice.list_pending_acks(page_size=2, page_token=token)
        pages.append(page)
        if not (token := page.next_page_token):
            break
    newest = await team.alice.list_pending_acks(order=am.AckOrder.NEWEST_FIRST)
    overdue = await team.alice.list_pending_acks(overdue_only=True)
    tighter = await team.alice.list_pending_acks(overdue_only=True, overdue_seconds=1200)

    items = [item for page in pages for item in page]
    assert [item.message.id for item in items] == sent
    assert [len(page) for page in pages] == [2, 1]
    first = items[0]
    assert (first.acknowledged_count, [r.recipient for r in first.pending]) == (1, ["Carol"])
    assert [item.message.id for item in newest] == sent[::-1]
    # Now is 3600 s after the first send: only it is overdue by the default hour.
    assert (overdue.overdue_seconds, [i.message.id for i in overdue]) == (3600, sent[:1])
    assert [i.overdue for i in items] == [True, False, False]
    assert (tighter.overdue_seconds, [i.message.id for i in tighter]) == (1200, sent)


async def test_list_unacknowledged_is_the_recipients_own_oldest_first(team: Team) -> None:
    first = (await team.alice.send_message(to="Bob", subject="a", ack_required=True)).message
    await team.alice.send_message(to="Bob", subject="no ack")
    second = (await team.carol.send_message(cc="Bob", subject="b", ack_required=True)).message

    page = await team.bob.list_unacknowledged()
    await team.bob.acknowledge_message(first.id)
    after = await team.bob.list_unacknowledged(include_bodies=False)

    assert [item.message.id for item in page] == [first.id, second.id]
    assert all(isinstance(item, am.InboxItem) and item.cursor for item in page)
    assert [item.message.id for item in after] == [second.id]
    assert after.items[0].message.body == ""
    assert len(await team.alice.list_unacknowledged()) == 0


async def test_bad_tokens_and_thresholds_raise_typed_errors(team: Team) -> None:
    with pytest.raises(am.InvalidArgument) as bad_token:
        await team.alice.list_pending_acks(page_token="not-a-token")
    with pytest.raises(am.InvalidArgument) as bad_size:
        await team.alice.list_unacknowledged(page_size=-1)
    with pytest.raises(am.InvalidArgument) as too_long:
        await team.alice.list_pending_acks(overdue_seconds=10**12)
    with pytest.raises(ValueError, match="overdue_seconds"):
        await team.alice.list_pending_acks(overdue_seconds=0)
    with pytest.raises(am.NotFound) as unknown:
        await team.alice.get_message(987654)

    assert bad_token.value.reason == "INVALID_PAGE_TOKEN"
    assert [v.field for v in bad_size.value.field_violations] == ["page_size"]
    assert [v.field for v in too_long.value.field_violations] == ["overdue_seconds"]
    assert unknown.value.reason == "MESSAGE_NOT_FOUND"
