"""Cursors and page tokens are opaque and bound to their agent and list: another agent's
cursor (same project or another), a forged, garbled, truncated or extended one is refused
with INVALID_PAGE_TOKEN on ListInbox and SubscribeInbox alike, and a cursor never shows the
message id it stands for."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as pb
from conftest import OPERATOR_MD

INVALID = grpc.StatusCode.INVALID_ARGUMENT
REASON = "INVALID_PAGE_TOKEN"


@contextlib.asynccontextmanager
async def subscription(mail: Any, agent: Any, cursor: str) -> AsyncIterator[Any]:
    call = mail.SubscribeInbox(pb.SubscribeInboxRequest(cursor=cursor), metadata=agent.md)
    try:
        yield call
    finally:
        call.cancel()


async def refused_everywhere(mail: Any, agent: Any, cursor: str, expect_error: Any) -> None:
    """``cursor`` is refused as an inbox page token and as a subscription cursor."""
    await expect_error(
        mail.ListInbox(pb.ListInboxRequest(page_token=cursor), metadata=agent.md),
        INVALID,
        REASON,
        field="page_token",
    )
    async with subscription(mail, agent, cursor) as call:
        await expect_error(call.read(), INVALID, REASON, field="cursor")


async def inbox(mail: Any, agent: Any, **fields: Any) -> Any:
    return await mail.ListInbox(pb.ListInboxRequest(**fields), metadata=agent.md)


async def test_another_agents_cursor_is_refused(mail, send, alice, bob, carol, expect_error):
    # Bob and Carol both received every message, so Carol's cursors point at messages that
    # are in Bob's inbox too: only the binding to Carol can refuse them.
    for i in range(3):
        await send(alice, to=[bob.name, carol.name], subject=f"m{i}")
    carols = await inbox(mail, carol, page_size=1)
    bobs = await inbox(mail, bob, page_size=1)
    assert carols.items[0].message.id == bobs.items[0].message.id
    for cursor in (carols.items[0].cursor, carols.next_page_token):
        await refused_everywhere(mail, bob, cursor, expect_error)
    async with subscription(mail, carol, "") as call:
        event = await call.read()
        assert event.WhichOneof("event") == "heartbeat"
        await refused_everywhere(mail, bob, event.heartbeat.tail_cursor, expect_error)
    # Bob's own cursor for the same message works, and continues after it.
    after = await inbox(mail, bob, page_token=bobs.items[0].cursor)
    assert [i.message.subject for i in after.items] == ["m1", "m2"]


async def test_a_cursor_from_another_project_is_refused(
    mail, agents, send, alice, bob, make_project, register, expect_error
):
    other = await make_project("/elsewhere")
    sender = await register(other, "Sender")
    # Same name as in the first project: the binding is to the agent, not to its name.
    namesake = await register(other, bob.name)
    await send(sender, to=[namesake.name])
    await send(alice, to=[bob.name])
    foreign = await inbox(mail, namesake)
    await refused_everywhere(mail, bob, foreign.items[0].cursor, expect_error)
    await refused_everywhere(mail, namesake, (await inbox(mail, bob)).items[0].cursor, expect_error)


async def test_forged_garbled_truncated_and_extended_cursors_are_refused(
    mail, send, alice, bob, expect_error
):
    await send(alice, to=[bob.name])
    cursor = (await inbox(mail, bob)).items[0].cursor
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    tampered = [
        cursor[:-1],
        cursor[:-6],
        cursor + "A",
        cursor + cursor,
        cursor[:10] + ("B" if cursor[10] != "B" else "C") + cursor[11:],
        base64.urlsafe_b64encode(raw[:-1] + bytes([raw[-1] ^ 0x01])).rstrip(b"=").decode(),
        base64.urlsafe_b64encode(b"1.ia.1").decode(),  # the old, readable form
        base64.urlsafe_b64encode(b"1.ia.999999").decode(),
        "not a cursor",
    ]
    for forged in tampered:
        await refused_everywhere(mail, bob, forged, expect_error)


async def test_a_cursor_shows_no_message_id(mail, send, send_many, alice, bob, carol, dave):
    # Ids of three digits and more: a decimal id could not turn up in random bytes by chance.
    await send_many(alice, 300, to=[dave.name])
    sent = [await send(alice, to=[bob.name, carol.name], subject=f"m{i}") for i in range(5)]
    bobs = (await inbox(mail, bob)).items
    carols = (await inbox(mail, carol)).items
    assert [i.message.id for i in bobs] == [i.message.id for i in carols] == [m.id for m in sent]
    assert min(m.id for m in sent) > 300
    for bob_item, carol_item in zip(bobs, carols, strict=True):
        message_id = bob_item.message.id
        assert bob_item.cursor != carol_item.cursor
        for cursor in (bob_item.cursor, carol_item.cursor):
            assert str(message_id) not in cursor
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
            assert str(message_id).encode() not in raw
            for width in (4, 8):  # nor as a fixed-width binary integer
                assert message_id.to_bytes(width, "big") not in raw
                assert message_id.to_bytes(width, "little") not in raw
            assert len(cursor) <= 32, "short enough for URLs and files"
    # Consecutive messages' cursors share nothing but the format's version prefix.
    prefixes = {c.cursor[:3] for c in bobs}
    assert len(prefixes) > 1


async def test_get_message_cursor_is_the_inbox_cursor(mail, send, alice, bob, carol):
    message = await send(alice, to=[bob.name, carol.name])
    bobs = await mail.GetMessage(pb.GetMessageRequest(message_id=message.id), metadata=bob.md)
    carols = await mail.GetMessage(pb.GetMessageRequest(message_id=message.id), metadata=carol.md)
    assert bobs.delivery.cursor == (await inbox(mail, bob)).items[0].cursor
    assert bobs.delivery.cursor != carols.delivery.cursor


async def test_outbox_and_thread_tokens_are_bound_to_their_caller_and_thread(
    mail, send, alice, bob, carol, expect_error
):
    for i in range(3):
        await send(alice, to=[bob.name, carol.name], subject=f"m{i}", thread_id="t1")
        await send(alice, to=[bob.name, carol.name], subject=f"n{i}", thread_id="t2")
    outbox = await mail.ListOutbox(pb.ListOutboxRequest(page_size=1), metadata=alice.md)
    thread = await mail.GetThread(pb.GetThreadRequest(thread_id="t1", page_size=1), metadata=bob.md)
    assert outbox.next_page_token and thread.next_page_token
    await expect_error(
        mail.ListOutbox(pb.ListOutboxRequest(page_token=outbox.next_page_token), metadata=bob.md),
        INVALID,
        REASON,
        field="page_token",
    )
    for who, thread_id in ((carol, "t1"), (bob, "t2")):
        await expect_error(
            mail.GetThread(
                pb.GetThreadRequest(thread_id=thread_id, page_token=thread.next_page_token),
                metadata=who.md,
            ),
            INVALID,
            REASON,
            field="page_token",
        )
    rest = await mail.GetThread(
        pb.GetThreadRequest(thread_id="t1", page_token=thread.next_page_token), metadata=bob.md
    )
    assert [m.subject for m in rest.messages] == ["m1", "m2"]


async def test_agent_list_tokens_are_bound_to_their_project(
    agents, make_project, register, expect_error
):
    first, second = await make_project("/p1"), await make_project("/p2")
    for name in ("A1", "A2", "A3"):
        await register(first, name)
        await register(second, name)
    page = await agents.ListAgents(
        apb.ListAgentsRequest(project=first, page_size=1), metadata=OPERATOR_MD
    )
    assert page.next_page_token
    await expect_error(
        agents.ListAgents(
            apb.ListAgentsRequest(project=second, page_token=page.next_page_token),
            metadata=OPERATOR_MD,
        ),
        INVALID,
        REASON,
        field="page_token",
    )
    rest = await agents.ListAgents(
        apb.ListAgentsRequest(project=first, page_token=page.next_page_token), metadata=OPERATOR_MD
    )
    assert [a.name for a in rest.agents] == ["A2", "A3"]


@pytest.mark.parametrize("page_size", [1, 2, 7])
async def test_paging_by_item_cursor_visits_every_message_once(
    mail, send_many, alice, bob, page_size
):
    sent = await send_many(alice, 15, to=[bob.name])
    seen: list[int] = []
    cursor = ""
    for _ in range(100):
        page = await inbox(mail, bob, page_size=page_size, page_token=cursor)
        if not page.items:
            break
        seen += [i.message.id for i in page.items]
        # Either the page token or the last item's cursor continues: they are the same.
        assert page.next_page_token == page.items[-1].cursor
        cursor = page.items[-1].cursor
    assert seen == sorted(m.id for m in sent)
