"""GetMessage: visibility, the caller's delivery state, and no side effects."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2

NOT_FOUND = grpc.StatusCode.NOT_FOUND


async def get(mail, agent, message_id: int) -> pb.GetMessageResponse:
    return await mail.GetMessage(pb.GetMessageRequest(message_id=message_id), metadata=agent.md)


async def test_sender_gets_its_view_without_delivery(mail, send, alice, bob, dave):
    sent = await send(alice, to=[bob.name], bcc=[dave.name], subject="s1", body="full body")

    got = await get(mail, alice, sent.id)

    assert got.message == sent
    assert got.message.body == "full body"
    assert not got.HasField("delivery")


async def test_recipient_gets_message_and_its_delivery(mail, send, alice, bob, carol):
    sent = await send(alice, to=[bob.name], cc=[carol.name], ack_required=True)

    got = await get(mail, carol, sent.id)

    assert got.message == sent
    assert got.HasField("delivery")
    delivery = got.delivery
    assert delivery.kind == types_pb2.RECIPIENT_KIND_CC
    assert delivery.message.id == sent.id
    assert delivery.cursor
    assert not delivery.HasField("read_time")
    assert not delivery.HasField("ack_time")


async def test_delivery_cursor_continues_the_inbox_after_that_message(mail, send, alice, bob):
    first = await send(alice, to=[bob.name], subject="one")
    second = await send(alice, to=[bob.name], subject="two")

    cursor = (await get(mail, bob, first.id)).delivery.cursor
    page = await mail.ListInbox(pb.ListInboxRequest(page_token=cursor), metadata=bob.md)

    assert [i.message.id for i in page.items] == [second.id]


async def test_get_message_to_oneself_has_delivery(mail, send, alice):
    sent = await send(alice, to=[alice.name])

    got = await get(mail, alice, sent.id)

    assert got.delivery.kind == types_pb2.RECIPIENT_KIND_TO


async def test_get_message_never_marks_read(mail, send, alice, bob, read_inbox):
    sent = await send(alice, to=[bob.name])

    for _ in range(2):
        got = await get(mail, bob, sent.id)
        assert not got.delivery.HasField("read_time")
    unread = await read_inbox(bob, unread_only=True)

    assert [i.message.id for i in unread] == [sent.id]


async def test_message_of_others_is_not_found_like_a_missing_one(
    mail, send, alice, bob, carol, expect_error
):
    sent = await send(alice, to=[bob.name])
    missing_id = sent.id + 1_000_000

    hidden = await expect_error(
        get(mail, carol, sent.id),
        NOT_FOUND,
        "MESSAGE_NOT_FOUND",
        metadata={"messageIds": str(sent.id)},
    )
    missing = await expect_error(
        get(mail, carol, missing_id),
        NOT_FOUND,
        "MESSAGE_NOT_FOUND",
        metadata={"messageIds": str(missing_id)},
    )

    assert hidden.message.replace(str(sent.id), "#") == missing.message.replace(
        str(missing_id), "#"
    )
    assert hidden.metadata.keys() == missing.metadata.keys()


async def test_message_is_invisible_from_another_project(
    mail, send, make_project, register, alice, bob, expect_error
):
    sent = await send(alice, to=[bob.name])
    outsider = await register(await make_project("/other"), "Bob")

    await expect_error(get(mail, outsider, sent.id), NOT_FOUND, "MESSAGE_NOT_FOUND")


@pytest.mark.parametrize("message_id", [0, -1, 2**63 - 1])
async def test_get_message_with_odd_id_is_a_clean_client_error(
    mail, alice, rpc_failure, message_id
):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await get(mail, alice, message_id)

    failure = rpc_failure(caught.value)
    assert (failure.code, failure.reason) in (
        (NOT_FOUND, "MESSAGE_NOT_FOUND"),
        (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT"),
    )
