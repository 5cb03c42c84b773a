"""ListOutbox (newest first, sender's view) and GetThread (visible messages, oldest first)."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


async def outbox_pages(mail, agent, page_size: int, **fields) -> list[list]:
    pages: list[list] = []
    token = ""
    for _ in range(1000):
        response = await mail.ListOutbox(
            pb.ListOutboxRequest(page_size=page_size, page_token=token, **fields),
            metadata=agent.md,
        )
        pages.append(list(response.messages))
        assert not response.next_page_token or response.next_page_token != token, "no progress"
        if not response.next_page_token:
            return pages
        token = response.next_page_token
    raise AssertionError("outbox paging never ended")


async def thread_messages(mail, agent, thread_id: str, page_size: int = 0, **fields) -> list:
    messages: list = []
    token = ""
    for _ in range(1000):
        response = await mail.GetThread(
            pb.GetThreadRequest(
                thread_id=thread_id, page_size=page_size, page_token=token, **fields
            ),
            metadata=agent.md,
        )
        messages += response.messages
        assert not response.next_page_token or response.next_page_token != token, "no progress"
        if not response.next_page_token:
            return messages
        token = response.next_page_token
    raise AssertionError("thread paging never ended")


async def test_outbox_lists_own_sent_messages_newest_first(mail, send, alice, bob, carol, dave):
    first = await send(alice, to=[bob.name], bcc=[dave.name])
    await send(bob, to=[alice.name])
    second = await send(alice, cc=[carol.name])
    third = await send(alice, bcc=[bob.name, carol.name])

    pages = await outbox_pages(mail, alice, page_size=50, view=MESSAGE_VIEW_FULL)

    assert len(pages) == 1
    assert [m.id for m in pages[0]] == [third.id, second.id, first.id]
    assert pages[0] == [third, second, first]
    assert sorted(pages[0][0].bcc) == ["Bob", "Carol"]
    assert list(pages[0][2].bcc) == ["Dave"]


async def test_outbox_pages_newest_first_and_ends_with_empty_token(mail, send_many, alice, bob):
    sent = await send_many(alice, 5, batch=1, to=[bob.name])
    four = await send_many(bob, 4, batch=1, to=[alice.name])

    pages = await outbox_pages(mail, alice, page_size=2)
    even_pages = await outbox_pages(mail, bob, page_size=2)

    assert [[m.id for m in p] for p in pages] == [
        [sent[4].id, sent[3].id],
        [sent[2].id, sent[1].id],
        [sent[0].id],
    ]
    assert [[m.id for m in p] for p in even_pages] == [
        [four[3].id, four[2].id],
        [four[1].id, four[0].id],
    ]


async def test_outbox_page_size_defaults_to_50_and_clamps_to_500(mail, send_many, alice):
    sent = await send_many(alice, 501, to=[alice.name])
    newest_first = sorted((m.id for m in sent), reverse=True)

    default = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    clamped = await mail.ListOutbox(pb.ListOutboxRequest(page_size=10_000), metadata=alice.md)
    last = await mail.ListOutbox(
        pb.ListOutboxRequest(page_size=500, page_token=clamped.next_page_token),
        metadata=alice.md,
    )

    assert [m.id for m in default.messages] == newest_first[:50]
    assert [m.id for m in clamped.messages] == newest_first[:500]
    assert [m.id for m in last.messages] == newest_first[500:]
    assert last.next_page_token == ""


async def test_outbox_includes_bodies_unless_left_out(mail, send, alice, bob):
    await send(alice, to=[bob.name], body="outgoing body")

    default = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    envelope = await mail.ListOutbox(
        pb.ListOutboxRequest(view=MESSAGE_VIEW_ENVELOPE), metadata=alice.md
    )

    assert envelope.messages[0].body == ""
    assert envelope.messages[0].body_size_bytes == len(b"outgoing body")
    assert default.messages[0].body == "outgoing body"


async def test_outbox_rejects_negative_page_size(mail, alice, expect_error):
    await expect_error(
        mail.ListOutbox(pb.ListOutboxRequest(page_size=-3), metadata=alice.md),
        INVALID,
        "INVALID_ARGUMENT",
        field="page_size",
    )


@pytest.mark.parametrize("token", ["garbage", "AAAA", "%%"])
async def test_outbox_rejects_garbage_page_token(mail, alice, expect_error, token):
    await expect_error(
        mail.ListOutbox(pb.ListOutboxRequest(page_token=token), metadata=alice.md),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )


async def test_thread_lists_visible_messages_oldest_first(
    mail, send, alice, bob, carol, dave, expect_error
):
    root = await send(alice, to=[bob.name], subject="root")
    to_carol = await send(alice, to=[carol.name], thread_id=root.thread_id)
    bob_reply = await send(bob, to=[alice.name], thread_id=root.thread_id)
    unrelated = await send(alice, to=[bob.name])

    seen = {
        agent.name: [m.id for m in await thread_messages(mail, agent, root.thread_id)]
        for agent in (alice, bob, carol)
    }

    assert seen == {
        "Alice": [root.id, to_carol.id, bob_reply.id],
        "Bob": [root.id, bob_reply.id],
        "Carol": [to_carol.id],
    }
    assert unrelated.thread_id != root.thread_id
    await expect_error(
        mail.GetThread(pb.GetThreadRequest(thread_id=root.thread_id), metadata=dave.md),
        NOT_FOUND,
        "THREAD_NOT_FOUND",
    )


async def test_thread_nobody_can_see_is_not_found(mail, send, alice, bob, carol, expect_error):
    root = await send(alice, to=[bob.name], thread_id="private-thread")

    for thread_id in (root.thread_id, "no-such-thread", str(root.id + 1000)):
        await expect_error(
            mail.GetThread(pb.GetThreadRequest(thread_id=thread_id), metadata=carol.md),
            NOT_FOUND,
            "THREAD_NOT_FOUND",
        )


async def test_thread_is_scoped_to_the_callers_project(
    mail, send, make_project, register, alice, bob
):
    ours = await send(alice, to=[bob.name], thread_id="shared-name")
    other = await make_project("/other")
    xavier = await register(other, "Xavier")
    yolanda = await register(other, "Yolanda")
    theirs = await send(xavier, to=[yolanda.name, xavier.name], thread_id="shared-name")

    assert [m.id for m in await thread_messages(mail, alice, "shared-name")] == [ours.id]
    assert [m.id for m in await thread_messages(mail, xavier, "shared-name")] == [theirs.id]


async def test_thread_requires_a_thread_id(mail, alice, expect_error):
    await expect_error(
        mail.GetThread(pb.GetThreadRequest(thread_id=""), metadata=alice.md),
        INVALID,
        "INVALID_ARGUMENT",
        field="thread_id",
    )


async def test_thread_pages_oldest_first(mail, send, alice, bob):
    root = await send(alice, to=[bob.name])
    rest = [await send(alice, to=[bob.name], thread_id=root.thread_id) for _ in range(4)]

    first = await mail.GetThread(
        pb.GetThreadRequest(thread_id=root.thread_id, page_size=2), metadata=bob.md
    )
    everything = await thread_messages(mail, bob, root.thread_id, page_size=2)

    assert [m.id for m in first.messages] == [root.id, rest[0].id]
    assert first.next_page_token
    assert [m.id for m in everything] == [root.id, *(m.id for m in rest)]


async def test_thread_includes_bodies_unless_left_out(mail, send, alice, bob):
    root = await send(alice, to=[bob.name], body="thread body")

    envelope = await thread_messages(mail, bob, root.thread_id, view=MESSAGE_VIEW_ENVELOPE)
    default = await thread_messages(mail, bob, root.thread_id)

    assert [(m.body, m.body_size_bytes) for m in envelope] == [("", len(b"thread body"))]
    assert [m.body for m in default] == ["thread body"]
