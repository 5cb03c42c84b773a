"""Receipts: the sender of a message sees each recipient's delivery, read and ack times (bcc
included) in GetMessage and, when asked, in ListOutbox; nobody else sees another reader's state.

The server runs on a ManualClock so every time in a receipt is checked exactly.
"""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2
from agentmail_server.domain.clock import ManualClock

START_MICROS = 1_750_000_000_000_000
STEP_MICROS = 90_000_000
TO, CC, BCC = (
    types_pb2.RECIPIENT_KIND_TO,
    types_pb2.RECIPIENT_KIND_CC,
    types_pb2.RECIPIENT_KIND_BCC,
)


@pytest.fixture
def clock() -> ManualClock:
    """The server's clock, standing still until a test advances it."""
    return ManualClock(START_MICROS)


@pytest.fixture
async def server(
    tmp_path: pathlib.Path, clock: ManualClock, start_server: Any
) -> AsyncIterator[Any]:
    """A running server reading ``clock``."""
    async with start_server(tmp_path / "data", clock=clock) as srv:
        yield srv


def micros(stamp: Any) -> int | None:
    """A set Timestamp in microseconds, None when unset (the field's parent decides)."""
    return int(stamp.ToMicroseconds())


def states(receipts: Any) -> list[tuple[str, int, int | None, int | None, int | None]]:
    """(recipient, kind, deliver, read, ack) of each receipt; unset times are None."""
    return [
        (
            r.recipient,
            r.kind,
            micros(r.deliver_time) if r.HasField("deliver_time") else None,
            micros(r.read_time) if r.HasField("read_time") else None,
            micros(r.ack_time) if r.HasField("ack_time") else None,
        )
        for r in receipts
    ]


async def get(mail: Any, agent: Any, message_id: int) -> pb.GetMessageResponse:
    return await mail.GetMessage(pb.GetMessageRequest(message_id=message_id), metadata=agent.md)


async def test_the_sender_sees_a_receipt_per_recipient_bcc_included(mail, send, alice, clock):
    clock.advance(micros=STEP_MICROS)
    sent = await send(alice, to=["Carol", "Bob"], cc=["Dave"], bcc=["Erin"])

    got = await get(mail, alice, sent.id)

    delivered = START_MICROS + STEP_MICROS
    assert micros(sent.create_time) == delivered
    assert states(got.receipts) == [
        ("Carol", TO, delivered, None, None),
        ("Bob", TO, delivered, None, None),
        ("Dave", CC, delivered, None, None),
        ("Erin", BCC, delivered, None, None),
    ]


async def test_recipients_and_third_parties_never_see_receipts(
    mail, send, alice, bob, dave, erin, expect_error
):
    sent = await send(alice, to=["Bob"], bcc=["Dave"], ack_required=True)
    await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=[sent.id]), metadata=bob.md
    )

    for reader in (bob, dave):
        got = await get(mail, reader, sent.id)
        assert got.HasField("delivery")
        assert list(got.receipts) == []
    await expect_error(get(mail, erin, sent.id), grpc.StatusCode.NOT_FOUND, "MESSAGE_NOT_FOUND")
    # Bob's outbox holds his own mail only, so Alice's message and its receipts never show.
    outbox = await mail.ListOutbox(pb.ListOutboxRequest(include_receipts=True), metadata=bob.md)
    assert (list(outbox.messages), list(outbox.receipts)) == ([], [])


async def test_receipts_move_with_reads_and_acks_and_the_first_time_wins(
    mail, send, alice, bob, carol, clock
):
    sent = await send(alice, to=["Bob", "Carol"], ack_required=True)
    t0 = START_MICROS
    clock.advance(micros=STEP_MICROS)
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[sent.id]), metadata=bob.md)
    clock.advance(micros=STEP_MICROS)
    await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=[sent.id]), metadata=bob.md
    )
    await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=[sent.id]), metadata=carol.md
    )
    clock.advance(micros=STEP_MICROS)
    # Repeats change nothing: the first read and the first acknowledgement stay.
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[sent.id]), metadata=carol.md)
    await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=[sent.id]), metadata=bob.md
    )

    got = await get(mail, alice, sent.id)

    t1, t2 = t0 + STEP_MICROS, t0 + 2 * STEP_MICROS
    assert states(got.receipts) == [("Bob", TO, t0, t1, t2), ("Carol", TO, t0, t2, t2)]


async def test_outbox_receipts_only_when_asked_one_entry_per_message(mail, send, alice, bob, dave):
    first = await send(alice, to=["Bob"], subject="one")
    second = await send(alice, to=["Dave"], cc=["Bob"], bcc=["Carol"], subject="two")
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[first.id, second.id]), metadata=bob.md)

    plain = await mail.ListOutbox(pb.ListOutboxRequest(), metadata=alice.md)
    asked = await mail.ListOutbox(pb.ListOutboxRequest(include_receipts=True), metadata=alice.md)

    assert list(plain.receipts) == []
    assert [m.id for m in asked.messages] == [second.id, first.id]
    assert [entry.message_id for entry in asked.receipts] == [second.id, first.id]
    for entry in asked.receipts:
        assert list(entry.receipts) == list((await get(mail, alice, entry.message_id)).receipts)
    assert [(r.recipient, r.kind, r.HasField("read_time")) for r in asked.receipts[0].receipts] == [
        ("Dave", TO, False),
        ("Bob", CC, True),
        ("Carol", BCC, False),
    ]


async def test_outbox_receipts_follow_the_pages(mail, send_many, alice):
    sent = await send_many(alice, 5, batch=1, to=["Bob", "Carol"])

    seen: list[int] = []
    token = ""
    while True:
        page = await mail.ListOutbox(
            pb.ListOutboxRequest(page_size=2, page_token=token, include_receipts=True),
            metadata=alice.md,
        )
        assert [e.message_id for e in page.receipts] == [m.id for m in page.messages]
        assert all([r.recipient for r in e.receipts] == ["Bob", "Carol"] for e in page.receipts)
        seen += [m.id for m in page.messages]
        if not (token := page.next_page_token):
            break

    assert seen == [m.id for m in reversed(sent)]


async def test_a_broadcast_has_a_receipt_for_every_other_agent(mail, send, alice):
    sent = await send(alice, broadcast=True)

    got = await get(mail, alice, sent.id)

    assert [(r.recipient, r.kind) for r in got.receipts] == [
        (name, TO) for name in ("Bob", "Carol", "Dave", "Erin")
    ]


async def test_a_message_to_oneself_has_the_senders_own_receipt(mail, send, alice, clock):
    sent = await send(alice, to=["Alice", "Bob"], ack_required=True)
    clock.advance(micros=STEP_MICROS)
    await mail.AcknowledgeMessage(
        pb.AcknowledgeMessageRequest(message_ids=[sent.id]), metadata=alice.md
    )

    got = await get(mail, alice, sent.id)

    assert got.HasField("delivery")
    acked = START_MICROS + STEP_MICROS
    assert states(got.receipts) == [
        ("Alice", TO, START_MICROS, acked, acked),
        ("Bob", TO, START_MICROS, None, None),
    ]
