"""ReplyMessage: threading, subject, addressing, importance, visibility and idempotency."""

from __future__ import annotations

import grpc
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2

MIB = 1024 * 1024


async def reply(mail, agent, message_id: int, **fields) -> pb.ReplyMessageResponse:
    fields.setdefault("body", "reply body")
    return await mail.ReplyMessage(
        pb.ReplyMessageRequest(message_id=message_id, **fields), metadata=agent.md
    )


def addressed(message) -> set[str]:
    return set(message.to) | set(message.cc) | set(message.bcc)


async def test_reply_joins_the_thread_and_goes_to_the_sender(mail, send, alice, bob, read_inbox):
    original = await send(
        alice, to=[bob.name], subject="Plan", topic="ops", importance=types_pb2.IMPORTANCE_HIGH
    )

    response = await reply(mail, bob, original.id, body="sounds good")

    message = response.message
    assert response.deduplicated is False
    assert message.id > original.id
    assert message.sender == "Bob"
    assert list(message.to) == ["Alice"]
    assert list(message.cc) == list(message.bcc) == []
    assert message.thread_id == original.thread_id == str(original.id)
    assert message.topic == "ops"
    assert message.subject == "Re: Plan"
    assert message.body == "sounds good"
    assert message.importance == types_pb2.IMPORTANCE_HIGH
    items = await read_inbox(alice)
    assert [(i.message.id, i.kind) for i in items] == [(message.id, types_pb2.RECIPIENT_KIND_TO)]


async def test_reply_keeps_a_named_thread(mail, send, alice, bob):
    original = await send(alice, to=[bob.name], thread_id="design-42")

    message = (await reply(mail, bob, original.id)).message

    assert message.thread_id == "design-42"


async def test_reply_subject_is_not_doubled(mail, send, alice, bob):
    original = await send(alice, to=[bob.name], subject="Plan")

    first = (await reply(mail, bob, original.id)).message
    second = (await reply(mail, alice, first.id)).message
    already = await send(alice, to=[bob.name], subject="Re: Status")
    third = (await reply(mail, bob, already.id)).message

    assert first.subject == "Re: Plan"
    assert second.subject == "Re: Plan"
    assert third.subject == "Re: Status"


async def test_reply_keeps_an_explicit_subject(mail, send, alice, bob):
    original = await send(alice, to=[bob.name], subject="Plan")

    message = (await reply(mail, bob, original.id, subject="Different")).message

    assert message.subject == "Different"


async def test_reply_to_own_message_goes_to_its_to(mail, send, alice, bob, carol, dave, read_inbox):
    original = await send(alice, to=[bob.name, carol.name], cc=[dave.name])

    message = (await reply(mail, alice, original.id)).message

    assert set(message.to) == {"Bob", "Carol"}
    assert addressed(message) == {"Bob", "Carol"}
    assert [i.message.id for i in await read_inbox(dave)] == [original.id]


async def test_reply_all_to_own_message_adds_cc(mail, send, alice, bob, carol, dave):
    original = await send(alice, to=[bob.name, carol.name], cc=[dave.name])

    message = (await reply(mail, alice, original.id, reply_all=True)).message

    assert addressed(message) == {"Bob", "Carol", "Dave"}


async def test_reply_all_addresses_sender_to_and_cc_minus_caller(
    mail, send, alice, bob, carol, dave, erin, read_inbox
):
    original = await send(alice, to=[bob.name, carol.name], cc=[dave.name], bcc=[erin.name])

    message = (await reply(mail, carol, original.id, reply_all=True)).message

    assert "Alice" in message.to
    assert addressed(message) == {"Alice", "Bob", "Dave"}
    for agent in (alice, bob, dave):
        assert message.id in [i.message.id for i in await read_inbox(agent)]
    assert [i.message.id for i in await read_inbox(erin)] == [original.id]
    assert [i.message.id for i in await read_inbox(carol)] == [original.id]


async def test_reply_all_by_bcc_recipient_reaches_sender_to_and_cc_only(
    mail, send, alice, bob, carol, dave, erin, read_inbox
):
    original = await send(alice, to=[bob.name], cc=[carol.name], bcc=[dave.name, erin.name])

    plain = (await reply(mail, dave, original.id)).message
    everyone = (await reply(mail, dave, original.id, reply_all=True)).message

    assert list(plain.to) == ["Alice"]
    assert addressed(plain) == {"Alice"}
    assert addressed(everyone) == {"Alice", "Bob", "Carol"}
    assert [i.message.id for i in await read_inbox(erin)] == [original.id]


async def test_reply_adds_requested_to_and_cc(mail, send, alice, bob, carol, erin):
    original = await send(alice, to=[bob.name])

    message = (await reply(mail, bob, original.id, to=["erin"], cc=["CAROL"])).message

    assert set(message.to) == {"Alice", "Erin"}
    assert list(message.cc) == ["Carol"]


async def test_reply_importance_defaults_to_the_originals(mail, send, alice, bob):
    original = await send(alice, to=[bob.name], importance=types_pb2.IMPORTANCE_URGENT)

    inherited = (await reply(mail, bob, original.id)).message
    lowered = (await reply(mail, bob, original.id, importance=types_pb2.IMPORTANCE_LOW)).message
    acked = (await reply(mail, bob, original.id, ack_required=True)).message

    assert inherited.importance == types_pb2.IMPORTANCE_URGENT
    assert lowered.importance == types_pb2.IMPORTANCE_LOW
    assert inherited.ack_required is False
    assert acked.ack_required is True


async def test_reply_to_a_message_one_cannot_see_is_not_found(
    mail, send, alice, bob, carol, expect_error
):
    original = await send(alice, to=[bob.name])

    for message_id in (original.id, original.id + 1_000_000):
        await expect_error(
            reply(mail, carol, message_id),
            grpc.StatusCode.NOT_FOUND,
            "MESSAGE_NOT_FOUND",
            metadata={"messageIds": str(message_id)},
        )
    assert list((await mail.ListOutbox(pb.ListOutboxRequest(), metadata=carol.md)).messages) == []


async def test_reply_to_unknown_extra_recipient_is_not_found(mail, send, alice, bob, expect_error):
    original = await send(alice, to=[bob.name])

    await expect_error(
        reply(mail, bob, original.id, to=["Nobody"]),
        grpc.StatusCode.NOT_FOUND,
        "RECIPIENT_NOT_FOUND",
        metadata={"missing": "Nobody"},
    )


async def test_reply_body_over_1_mib_is_rejected(mail, send, alice, bob, expect_error):
    original = await send(alice, to=[bob.name])

    await expect_error(
        reply(mail, bob, original.id, body="x" * (MIB + 1)),
        grpc.StatusCode.INVALID_ARGUMENT,
        "BODY_TOO_LARGE",
        field="body",
    )


async def test_reply_with_idempotency_key_is_sent_once(mail, send, alice, bob, read_inbox):
    original = await send(alice, to=[bob.name])

    first = await reply(mail, bob, original.id, idempotency_key="reply-1")
    again = await reply(mail, bob, original.id, idempotency_key="reply-1")

    assert first.deduplicated is False
    assert again.deduplicated is True
    assert again.message == first.message
    assert [i.message.id for i in await read_inbox(alice)] == [first.message.id]
