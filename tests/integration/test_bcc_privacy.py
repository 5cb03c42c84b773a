"""Bcc privacy: only the sender sees every bcc name; a bcc recipient sees only itself."""

from __future__ import annotations

import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL


async def recipient_views(mail, agent, message_id: int, thread_id: str) -> list:
    """Every way a recipient can see one message, with the serialized responses."""
    got = await mail.GetMessage(pb.GetMessageRequest(message_id=message_id), metadata=agent.md)
    views = [(got.message, got), (got.delivery.message, got)]
    for view in (MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL):
        inbox = await mail.ListInbox(pb.ListInboxRequest(view=view), metadata=agent.md)
        views += [(i.message, inbox) for i in inbox.items if i.message.id == message_id]
    thread = await mail.GetThread(pb.GetThreadRequest(thread_id=thread_id), metadata=agent.md)
    views += [(m, thread) for m in thread.messages if m.id == message_id]
    assert len(views) == 5
    return views


@pytest.fixture
async def secret(send, alice, bob, carol, dave, erin):
    """Alice to Bob, cc Carol, bcc Dave and Erin."""
    return await send(alice, to=[bob.name], cc=[carol.name], bcc=[dave.name, erin.name])


async def test_sender_sees_every_bcc_name_in_every_view(mail, secret, alice):
    got = await mail.GetMessage(pb.GetMessageRequest(message_id=secret.id), metadata=alice.md)
    outbox = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    thread = await mail.GetThread(
        pb.GetThreadRequest(thread_id=secret.thread_id), metadata=alice.md
    )

    views = [secret, got.message, *outbox.messages, *thread.messages]
    assert len(views) == 4
    for view in views:
        assert view.id == secret.id
        assert sorted(view.bcc) == ["Dave", "Erin"]
        assert list(view.to) == ["Bob"]
        assert list(view.cc) == ["Carol"]


@pytest.mark.parametrize("reader", ["bob", "carol"])
async def test_to_and_cc_recipients_never_see_bcc(mail, secret, request, reader):
    agent = request.getfixturevalue(reader)

    for view, response in await recipient_views(mail, agent, secret.id, secret.thread_id):
        assert list(view.bcc) == []
        assert list(view.to) == ["Bob"]
        assert list(view.cc) == ["Carol"]
        assert b"Dave" not in response.SerializeToString()
        assert b"Erin" not in response.SerializeToString()


@pytest.mark.parametrize(("reader", "other"), [("dave", "Erin"), ("erin", "Dave")])
async def test_bcc_recipient_sees_only_itself_in_bcc(mail, secret, request, reader, other):
    agent = request.getfixturevalue(reader)

    for view, response in await recipient_views(mail, agent, secret.id, secret.thread_id):
        assert list(view.bcc) == [agent.name]
        assert list(view.to) == ["Bob"]
        assert list(view.cc) == ["Carol"]
        assert other.encode() not in response.SerializeToString()

    got = await mail.GetMessage(pb.GetMessageRequest(message_id=secret.id), metadata=agent.md)
    assert got.delivery.kind == types_pb2.RECIPIENT_KIND_BCC


async def test_reply_all_by_a_to_recipient_does_not_reach_bcc(
    mail, secret, alice, bob, carol, dave, erin, read_inbox
):
    reply = (
        await mail.ReplyMessage(
            pb.ReplyMessageRequest(message_id=secret.id, body="ack", reply_all=True),
            metadata=bob.md,
        )
    ).message

    assert set(reply.to) | set(reply.cc) == {"Alice", "Carol"}
    assert list(reply.bcc) == []
    for agent in (dave, erin):
        assert [i.message.id for i in await read_inbox(agent)] == [secret.id]
    for agent in (alice, carol):
        assert reply.id in [i.message.id for i in await read_inbox(agent)]


async def test_thread_view_hides_bcc_of_each_message_separately(
    mail, secret, alice, bob, dave, erin
):
    follow_up = (
        await mail.SendMessage(
            pb.SendMessageRequest(
                to=[bob.name],
                bcc=[erin.name],
                subject="follow-up",
                body="b",
                thread_id=secret.thread_id,
            ),
            metadata=alice.md,
        )
    ).message

    def bcc_by_id(thread) -> dict[int, list[str]]:
        return {m.id: sorted(m.bcc) for m in thread.messages}

    async def thread_of(agent):
        return await mail.GetThread(
            pb.GetThreadRequest(thread_id=secret.thread_id), metadata=agent.md
        )

    assert bcc_by_id(await thread_of(alice)) == {
        secret.id: sorted(secret.bcc),
        follow_up.id: ["Erin"],
    }
    assert bcc_by_id(await thread_of(bob)) == {secret.id: [], follow_up.id: []}
    assert bcc_by_id(await thread_of(erin)) == {secret.id: ["Erin"], follow_up.id: ["Erin"]}
    assert bcc_by_id(await thread_of(dave)) == {secret.id: ["Dave"]}
