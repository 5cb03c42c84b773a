"""Acknowledgement tracking: ListPendingAcks (a sender's ack-required messages some recipient has
not acknowledged, with those recipients) and ListUnacknowledged (a recipient's own unacknowledged
ack-required mail, oldest first).

The server runs on a ManualClock: "overdue" is crossed by advancing it, never by sleeping.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import agent_service_pb2_grpc, mail_service_pb2_grpc, types_pb2
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import receipts_pb2 as rpb
from agentmail_server.domain.clock import ManualClock

START_MICROS = 1_750_000_000_000_000
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NEWEST = rpb.ACK_ORDER_NEWEST_FIRST


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, standing still until a test advances it."""
    return ManualClock(START_MICROS)


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any
) -> AsyncIterator[Any]:
    """A running server reading ``clock`` (default overdue threshold: one hour)."""
    async with start_server(tmp_path / "data", clock=clock) as srv:
        yield srv


async def pending(mail: Any, agent: Any, **fields: Any) -> rpb.ListPendingAcksResponse:
    return await mail.ListPendingAcks(rpb.ListPendingAcksRequest(**fields), metadata=agent.md)


async def unacked(mail: Any, agent: Any, **fields: Any) -> rpb.ListUnacknowledgedResponse:
    return await mail.ListUnacknowledged(rpb.ListUnacknowledgedRequest(**fields), metadata=agent.md)


async def ack(mail: Any, agent: Any, *ids: int) -> None:
    await mail.AcknowledgeMessage(pb.AcknowledgeMessageRequest(message_ids=ids), metadata=agent.md)


def waiting(response: Any) -> list[tuple[int, list[str]]]:
    """(message id, names of the recipients still to acknowledge) per item."""
    return [(item.message.id, [r.recipient for r in item.pending]) for item in response.items]


async def test_pending_acks_lists_who_still_owes_an_acknowledgement(
    mail, send, alice, bob, carol, dave
):
    asked = await send(alice, to=["Bob", "Carol"], bcc=["Dave"], ack_required=True)
    await send(alice, to=["Bob"], subject="no ack asked")
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[asked.id]), metadata=carol.md)
    await ack(mail, bob, asked.id)

    response = await pending(mail, alice)

    assert waiting(response) == [(asked.id, ["Carol", "Dave"])]
    item = response.items[0]
    assert item.message == asked  # the sender's view, bcc included
    assert item.acknowledged_count == 1
    assert [r.HasField("read_time") for r in item.pending] == [True, False]
    assert not any(r.HasField("ack_time") for r in item.pending)
    assert [r.kind for r in item.pending] == [
        types_pb2.RECIPIENT_KIND_TO,
        types_pb2.RECIPIENT_KIND_BCC,
    ]
    assert all(r.deliver_time == asked.create_time for r in item.pending)


async def test_a_message_leaves_the_list_once_everyone_acknowledged(mail, send, alice, bob, carol):
    one = await send(alice, to=["Bob", "Carol"], ack_required=True)
    two = await send(alice, to=["Bob"], ack_required=True)

    await ack(mail, bob, one.id, two.id)
    assert waiting(await pending(mail, alice)) == [(one.id, ["Carol"])]
    await ack(mail, carol, one.id)
    assert waiting(await pending(mail, alice)) == []


async def test_only_the_callers_own_messages_are_listed(mail, send, alice, bob, carol):
    mine = await send(alice, to=["Bob"], ack_required=True)
    await send(bob, to=["Carol"], ack_required=True)

    assert waiting(await pending(mail, alice)) == [(mine.id, ["Bob"])]
    assert [i.message.id for i in (await pending(mail, carol)).items] == []


async def test_overdue_only_uses_the_default_threshold_or_the_requests(mail, send, alice, clock):
    old = await send(alice, to=["Bob"], ack_required=True, subject="old")
    clock.advance(seconds=1800)
    young = await send(alice, to=["Bob"], ack_required=True, subject="young")
    clock.advance(seconds=1800)  # old is now exactly one hour old: overdue; young is not

    everything = await pending(mail, alice)
    overdue = await pending(mail, alice, overdue_only=True)
    custom = await pending(mail, alice, overdue_only=True, overdue_seconds=1800)
    strict = await pending(mail, alice, overdue_only=True, overdue_seconds=3601)

    assert [(i.message.id, i.overdue) for i in everything.items] == [
        (old.id, True),
        (young.id, False),
    ]
    assert everything.overdue_seconds == overdue.overdue_seconds == 3600
    assert [i.message.id for i in overdue.items] == [old.id]
    assert [(i.message.id, i.overdue) for i in custom.items] == [(old.id, True), (young.id, True)]
    assert custom.overdue_seconds == 1800
    assert [i.message.id for i in strict.items] == []


async def test_the_overdue_threshold_is_a_setting(tmp_path, start_server, connect):
    clock = ManualClock(START_MICROS)
    async with (
        start_server(tmp_path / "own", clock=clock, ack_overdue_seconds=60) as server,
        connect(server.address) as channel,
    ):
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        mail = mail_service_pb2_grpc.MailServiceStub(channel)
        slug = (await agents.EnsureProject(apb.EnsureProjectRequest(human_key="/t"))).project.slug
        tokens = {}
        for name in ("Ann", "Ben"):
            registered = await agents.RegisterAgent(
                apb.RegisterAgentRequest(project=slug, name=name)
            )
            tokens[name] = (("authorization", f"Bearer {registered.agent_token}"),)
        sent = await mail.SendMessage(
            pb.SendMessageRequest(to=["Ben"], subject="s", ack_required=True),
            metadata=tokens["Ann"],
        )
        clock.advance(seconds=59)
        before = await mail.ListPendingAcks(
            rpb.ListPendingAcksRequest(overdue_only=True), metadata=tokens["Ann"]
        )
        clock.advance(seconds=1)
        after = await mail.ListPendingAcks(
            rpb.ListPendingAcksRequest(overdue_only=True), metadata=tokens["Ann"]
        )

    assert (before.overdue_seconds, [i.message.id for i in before.items]) == (60, [])
    assert [i.message.id for i in after.items] == [sent.message.id]


async def page_through(mail: Any, agent: Any, call: Any, **fields: Any) -> list[list[int]]:
    """The message ids of every page of a listing, following its tokens to the end."""
    pages: list[list[int]] = []
    token = ""
    while True:
        response = await call(mail, agent, page_token=token, **fields)
        pages.append([item.message.id for item in response.items])
        if not (token := response.next_page_token):
            return pages


async def test_pending_acks_page_oldest_or_newest_first(mail, send, alice, clock):
    sent = []
    for index in range(5):
        sent.append((await send(alice, to=["Bob"], ack_required=True, subject=f"m{index}")).id)
        clock.advance(seconds=1)

    oldest = await page_through(mail, alice, pending, page_size=2)
    newest = await page_through(mail, alice, pending, page_size=2, order=NEWEST)

    assert oldest == [sent[0:2], sent[2:4], sent[4:5]]
    assert newest == [sent[4:2:-1], sent[2:0:-1], sent[0:1]]


async def test_messages_sent_in_the_same_microsecond_page_without_gaps(mail, send_many, alice):
    sent = await send_many(alice, 7, batch=7, to=["Bob"], ack_required=True)

    pages = await page_through(mail, alice, pending, page_size=3)

    assert [mid for page in pages for mid in page] == sorted(m.id for m in sent)


async def test_unacknowledged_lists_the_callers_mail_oldest_first_with_paging(
    mail, send, alice, bob, carol
):
    first = await send(alice, to=["Bob"], ack_required=True, subject="1")
    await send(alice, to=["Bob"], subject="no ack asked")
    second = await send(carol, cc=["Bob"], ack_required=True, subject="2")
    third = await send(alice, bcc=["Bob"], to=["Carol"], ack_required=True, subject="3")
    fourth = await send(carol, to=["Bob"], ack_required=True, subject="4")
    await ack(mail, bob, second.id)

    pages = await page_through(mail, bob, unacked, page_size=2)
    listed = await unacked(mail, bob)

    assert pages == [[first.id, third.id], [fourth.id]]
    items = {item.message.id: item for item in listed.items}
    assert items[third.id].kind == types_pb2.RECIPIENT_KIND_BCC
    assert list(items[third.id].message.bcc) == ["Bob"]  # his own view: himself only
    assert not any(item.HasField("ack_time") for item in listed.items)
    # Carol's view is hers alone: Bob's unacknowledged mail is not in it.
    assert [i.message.id for i in (await unacked(mail, carol)).items] == [third.id]


async def test_an_unacknowledged_items_cursor_continues_the_inbox_after_it(mail, send, alice, bob):
    asked = await send(alice, to=["Bob"], ack_required=True)
    later = await send(alice, to=["Bob"])

    item = (await unacked(mail, bob)).items[0]
    after = await mail.ListInbox(pb.ListInboxRequest(page_token=item.cursor), metadata=bob.md)

    assert item.message.id == asked.id
    assert [i.message.id for i in after.items] == [later.id]


async def test_acknowledging_empties_the_recipients_list(mail, send, alice, bob):
    sent = [(await send(alice, to=["Bob"], ack_required=True)).id for _ in range(3)]

    await ack(mail, bob, *sent)

    response = await unacked(mail, bob)
    assert (list(response.items), response.next_page_token) == ([], "")


async def test_envelope_view_leaves_bodies_out(mail, send, alice, bob):
    await send(alice, to=["Bob"], ack_required=True, body="long body")

    mine = await pending(mail, alice, view=types_pb2.MESSAGE_VIEW_ENVELOPE)
    theirs = await unacked(mail, bob, view=types_pb2.MESSAGE_VIEW_ENVELOPE)

    for message in (mine.items[0].message, theirs.items[0].message):
        assert (message.body, message.body_size_bytes) == ("", len("long body"))


@pytest.mark.parametrize(
    ("call", "fields", "field", "reason"),
    [
        (pending, {"page_size": -1}, "page_size", "INVALID_ARGUMENT"),
        (pending, {"overdue_seconds": -1}, "overdue_seconds", "INVALID_ARGUMENT"),
        (pending, {"overdue_seconds": 315_360_001}, "overdue_seconds", "INVALID_ARGUMENT"),
        (pending, {"order": 7}, "order", "UNKNOWN_ENUM_VALUE"),
        (pending, {"view": 9}, "view", "UNKNOWN_ENUM_VALUE"),
        (pending, {"page_token": "garbage"}, "page_token", "INVALID_PAGE_TOKEN"),
        (unacked, {"page_size": -5}, "page_size", "INVALID_ARGUMENT"),
        (unacked, {"page_token": "garbage"}, "page_token", "INVALID_PAGE_TOKEN"),
        (unacked, {"view": -2}, "view", "UNKNOWN_ENUM_VALUE"),
    ],
    ids=lambda value: getattr(value, "__name__", None),
)
async def test_bad_requests_are_invalid_arguments(
    mail, alice, expect_error, call, fields, field, reason
):
    await expect_error(call(mail, alice, **fields), INVALID, reason, field=field)


async def test_a_token_works_only_for_its_caller_listing_and_order(
    mail, send_many, alice, bob, expect_error
):
    await send_many(alice, 3, batch=1, to=["Alice", "Bob"], ack_required=True)
    oldest = (await pending(mail, alice, page_size=1)).next_page_token
    newest = (await pending(mail, alice, page_size=1, order=NEWEST)).next_page_token
    own = (await unacked(mail, alice, page_size=1)).next_page_token
    bobs = (await unacked(mail, bob, page_size=1)).next_page_token
    assert oldest and newest and own and bobs

    refused = [
        pending(mail, alice, page_token=newest),  # another order
        pending(mail, alice, page_token=own),  # another listing
        pending(mail, bob, page_token=oldest),  # another caller
        unacked(mail, alice, page_token=bobs),
        unacked(mail, alice, page_token=oldest),
    ]
    for call in refused:
        await expect_error(call, INVALID, "INVALID_PAGE_TOKEN", field="page_token")


async def test_huge_page_sizes_are_capped(mail, send_many, alice, bob):
    await send_many(alice, 3, to=["Bob"], ack_required=True)

    mine = await pending(mail, alice, page_size=2**31 - 1)
    theirs = await unacked(mail, bob, page_size=2**31 - 1)

    assert (len(mine.items), len(theirs.items)) == (3, 3)
    assert mine.next_page_token == theirs.next_page_token == ""
