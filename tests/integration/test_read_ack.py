"""MarkRead and AcknowledgeMessage: first time wins, received mail only, all or nothing."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


async def mark_read(mail, agent, *message_ids: int) -> list:
    response = await mail.MarkRead(pb.MarkReadRequest(message_ids=message_ids), metadata=agent.md)
    return list(response.states)


async def acknowledge(mail, agent, *message_ids: int) -> list:
    response = await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=message_ids), metadata=agent.md
    )
    return list(response.states)


CALLS = {"MarkRead": mark_read, "AcknowledgeMessage": acknowledge}


async def delivery(mail, agent, message_id: int):
    got = await mail.GetMessage(pb.GetMessageRequest(message_id=message_id), metadata=agent.md)
    return got.delivery


async def test_mark_read_sets_read_time_only(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name])

    states = await mark_read(mail, bob, sent.id)

    assert [s.message_id for s in states] == [sent.id]
    assert states[0].HasField("read_time")
    assert not states[0].HasField("ack_time")
    after = await delivery(mail, bob, sent.id)
    assert after.read_time == states[0].read_time
    assert not after.HasField("ack_time")


async def test_mark_read_first_time_wins(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name])

    first = await mark_read(mail, bob, sent.id)
    await send(alice, to=[bob.name])
    second = await mark_read(mail, bob, sent.id)

    assert second == first
    assert (await delivery(mail, bob, sent.id)).read_time == first[0].read_time


async def test_states_follow_request_order_with_duplicates_collapsed(mail, send_many, alice, bob):
    one, two, three = await send_many(alice, 3, batch=1, to=[bob.name])

    read = await mark_read(mail, bob, three.id, one.id, three.id, two.id, one.id)
    acked = await acknowledge(mail, bob, two.id, two.id, three.id)

    assert [s.message_id for s in read] == [three.id, one.id, two.id]
    assert [s.message_id for s in acked] == [two.id, three.id]


async def test_acknowledge_sets_ack_and_read_time_when_unread(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name], ack_required=True)

    states = await acknowledge(mail, bob, sent.id)

    assert states[0].HasField("ack_time")
    assert states[0].HasField("read_time")
    after = await delivery(mail, bob, sent.id)
    assert (after.read_time, after.ack_time) == (states[0].read_time, states[0].ack_time)


async def test_acknowledge_keeps_an_earlier_read_time(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name])
    read = await mark_read(mail, bob, sent.id)

    acked = await acknowledge(mail, bob, sent.id)
    read_again = await mark_read(mail, bob, sent.id)

    assert acked[0].read_time == read[0].read_time
    assert acked[0].HasField("ack_time")
    assert acked[0].ack_time.ToNanoseconds() >= read[0].read_time.ToNanoseconds()
    assert read_again == acked


async def test_acknowledge_first_time_wins(mail, send, alice, bob):
    sent = await send(alice, to=[bob.name])

    first = await acknowledge(mail, bob, sent.id)
    second = await acknowledge(mail, bob, sent.id)

    assert second == first


async def test_read_state_is_per_recipient(mail, send, alice, bob, carol):
    sent = await send(alice, to=[bob.name, carol.name])

    await acknowledge(mail, bob, sent.id)

    carol_view = await delivery(mail, carol, sent.id)
    assert not carol_view.HasField("read_time")
    assert not carol_view.HasField("ack_time")


@pytest.mark.parametrize("call", CALLS)
async def test_messages_not_received_are_not_found(mail, send, alice, bob, expect_error, call):
    to_bob = await send(alice, to=[bob.name])
    from_bob = await send(bob, to=[alice.name])
    missing = from_bob.id + 1_000_000

    for caller, message_id in ((alice, to_bob.id), (bob, from_bob.id), (bob, missing)):
        await expect_error(
            CALLS[call](mail, caller, message_id),
            NOT_FOUND,
            "MESSAGE_NOT_FOUND",
            metadata={"messageIds": str(message_id)},
        )


@pytest.mark.parametrize("call", CALLS)
async def test_one_bad_id_changes_nothing(mail, send, alice, bob, carol, expect_error, call):
    received = await send(alice, to=[bob.name])
    also_received = await send(carol, to=[bob.name])
    not_for_bob = await send(alice, to=[carol.name])
    missing = not_for_bob.id + 1_000_000

    failure = await expect_error(
        CALLS[call](mail, bob, received.id, not_for_bob.id, also_received.id, missing),
        NOT_FOUND,
        "MESSAGE_NOT_FOUND",
    )

    assert sorted(failure.metadata["messageIds"].split(",")) == sorted(
        [str(not_for_bob.id), str(missing)]
    )
    for message_id in (received.id, also_received.id):
        state = await delivery(mail, bob, message_id)
        assert not state.HasField("read_time")
        assert not state.HasField("ack_time")


async def test_sender_who_is_also_recipient_may_mark_read(mail, send, alice):
    sent = await send(alice, to=[alice.name])

    states = await mark_read(mail, alice, sent.id)

    assert states[0].HasField("read_time")


@pytest.mark.parametrize("call", CALLS)
async def test_empty_id_list_is_invalid(mail, alice, expect_error, call):
    await expect_error(CALLS[call](mail, alice), INVALID, "INVALID_ARGUMENT")


@pytest.mark.parametrize("call", CALLS)
async def test_at_most_1000_ids_per_call(
    mail, send_many, alice, bob, expect_error, read_inbox, call
):
    sent = await send_many(alice, 1001, to=[bob.name])
    sent_ids = [m.id for m in sent]

    await expect_error(CALLS[call](mail, bob, *sent_ids), INVALID, "INVALID_ARGUMENT")
    untouched = await read_inbox(bob, page_size=500, unread_only=True)
    states = await CALLS[call](mail, bob, *sent_ids[:1000])

    assert len(untouched) == 1001
    assert [s.message_id for s in states] == sent_ids[:1000]
    assert all(s.HasField("read_time") for s in states)
    still_unread = await mail.ListInbox(pb.ListInboxRequest(unread_only=True), metadata=bob.md)
    assert [i.message.id for i in still_unread.items] == [sent_ids[1000]]
