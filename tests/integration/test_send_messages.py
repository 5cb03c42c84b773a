"""SendMessages: one result per item in order, a bad item failing alone with SendMessage's
error, per-item idempotency and contact policies, the bound on items per call, delivery to
subscribers, and search finding bulk-sent mail at once."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from agentmail.v1 import agent_service_pb2 as apb
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import search_service_pb2 as spb
from agentmail.v1 import search_service_pb2_grpc, types_pb2

INVALID = grpc.StatusCode.INVALID_ARGUMENT


def item(**fields: Any) -> pb.SendMessageRequest:
    fields.setdefault("subject", "subject")
    fields.setdefault("body", "body")
    return pb.SendMessageRequest(**fields)


async def send_many(mail: Any, sender: Any, items: list[pb.SendMessageRequest]) -> list[Any]:
    response = await mail.SendMessages(pb.SendMessagesRequest(messages=items), metadata=sender.md)
    assert len(response.results) == len(items)
    return list(response.results)


def sent_ids(results: list[Any]) -> list[int]:
    assert all(r.WhichOneof("outcome") == "sent" for r in results), results
    return [r.sent.message.id for r in results]


async def test_items_are_stored_in_request_order_with_their_own_fields(mail, alice, bob, carol):
    results = await send_many(
        mail,
        alice,
        [
            item(to=[bob.name], subject="first", topic="ci", ack_required=True),
            item(to=[carol.name], cc=[bob.name], subject="second", thread_id="t-1"),
            item(
                to=[bob.name],
                bcc=[carol.name],
                subject="third",
                importance=types_pb2.IMPORTANCE_URGENT,
            ),
        ],
    )
    ids = sent_ids(results)
    assert ids == sorted(ids) and len(set(ids)) == 3
    first, second, third = (r.sent.message for r in results)
    assert (first.subject, first.topic, first.ack_required, list(first.to)) == (
        "first",
        "ci",
        True,
        ["Bob"],
    )
    assert (list(second.to), list(second.cc), second.thread_id) == (["Carol"], ["Bob"], "t-1")
    assert third.importance == types_pb2.IMPORTANCE_URGENT and list(third.bcc) == ["Carol"]
    assert all(not r.sent.deduplicated for r in results)
    # Each is delivered exactly as a SendMessage would be: Bob has the first and third (to),
    # the second (cc); Carol the second (to) and the third (bcc).
    bobs = await mail.ListInbox(pb.ListInboxRequest(), metadata=bob.md)
    assert sorted(i.message.id for i in bobs.items) == ids
    carols = await mail.ListInbox(pb.ListInboxRequest(), metadata=carol.md)
    kinds = {i.message.id: i.kind for i in carols.items}
    assert kinds == {ids[1]: types_pb2.RECIPIENT_KIND_TO, ids[2]: types_pb2.RECIPIENT_KIND_BCC}


async def test_a_bad_item_fails_alone_with_the_error_send_message_gives(mail, alice, bob):
    bad = [
        item(to=["Nobody"]),
        item(to=[bob.name], subject="  "),
        item(to=[bob.name], subject="x" * 201),
        item(to=[bob.name], importance=99),
        item(),
        item(to=[bob.name], subject="line\nbreak"),
    ]
    good = [item(to=[bob.name], subject=f"ok {i}") for i in range(3)]
    results = await send_many(mail, alice, [good[0], *bad[:3], good[1], *bad[3:], good[2]])
    outcomes = [r.WhichOneof("outcome") for r in results]
    assert outcomes == [
        "sent",
        "error",
        "error",
        "error",
        "sent",
        "error",
        "error",
        "error",
        "sent",
    ]
    errors = [r.error for r in results if r.WhichOneof("outcome") == "error"]
    assert [(e.code, e.reason, e.field) for e in errors] == [
        (grpc.StatusCode.NOT_FOUND.value[0], "RECIPIENT_NOT_FOUND", ""),
        (INVALID.value[0], "INVALID_ARGUMENT", "subject"),
        (INVALID.value[0], "SUBJECT_TOO_LONG", "subject"),
        (INVALID.value[0], "UNKNOWN_ENUM_VALUE", "importance"),
        (INVALID.value[0], "NO_RECIPIENTS", "to"),
        (INVALID.value[0], "CONTROL_CHARACTER", "subject"),
    ]
    assert errors[0].metadata["missing"] == "Nobody"
    # The same errors SendMessage raises, item by item.
    for request, error in zip(bad, errors, strict=True):
        try:
            await mail.SendMessage(request, metadata=alice.md)
        except grpc.aio.AioRpcError as failure:
            assert failure.code().value[0] == error.code
            assert failure.details() == error.message
        else:
            raise AssertionError(f"SendMessage accepted {request}")
    inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=bob.md)
    assert [i.message.subject for i in inbox.items] == ["ok 0", "ok 1", "ok 2"]


async def test_each_item_is_idempotent_by_its_own_key(mail, alice, bob):
    items = [item(to=[bob.name], subject=f"k{i}", idempotency_key=f"key-{i}") for i in range(4)]
    first = sent_ids(await send_many(mail, alice, items))
    again = await send_many(mail, alice, [*items[:2], item(to=[bob.name], subject="fresh")])
    assert [r.sent.deduplicated for r in again] == [True, True, False]
    assert [r.sent.message.id for r in again[:2]] == first[:2]
    reused = await send_many(
        mail, alice, [item(to=[bob.name], subject="other", idempotency_key="key-3")]
    )
    assert reused[0].error.reason == "IDEMPOTENCY_KEY_REUSED"
    assert reused[0].error.metadata["messageId"] == str(first[3])
    # A key repeated inside one call: the second is the first's repeat.
    twice = await send_many(
        mail, alice, [item(to=[bob.name], subject="dup", idempotency_key="k-dup")] * 2
    )
    assert [r.sent.deduplicated for r in twice] == [False, True]
    assert twice[0].sent.message.id == twice[1].sent.message.id
    inbox = await mail.ListInbox(pb.ListInboxRequest(page_size=100), metadata=bob.md)
    assert len(inbox.items) == 6  # 4 keyed + fresh + dup


async def test_contact_refusals_are_per_item(mail, agents, alice, bob, carol):
    await agents.SetContactPolicy(
        apb.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_BLOCK_ALL), metadata=bob.md
    )
    results = await send_many(
        mail, alice, [item(to=[carol.name]), item(to=[bob.name]), item(to=[carol.name])]
    )
    assert [r.WhichOneof("outcome") for r in results] == ["sent", "error", "sent"]
    refusal = results[1].error
    assert refusal.code == grpc.StatusCode.PERMISSION_DENIED.value[0]
    assert refusal.reason == "CONTACT_BLOCKED"
    assert refusal.metadata["refused"] == "Bob:CONTACT_BLOCKED"


async def test_the_number_of_items_is_bounded(mail, alice, bob, expect_error):
    await expect_error(
        mail.SendMessages(pb.SendMessagesRequest(), metadata=alice.md),
        INVALID,
        "NO_SENDS",
        field="messages",
    )
    await expect_error(
        mail.SendMessages(
            pb.SendMessagesRequest(messages=[item(to=[bob.name])] * 501), metadata=alice.md
        ),
        INVALID,
        "TOO_MANY_SENDS",
        field="messages",
    )
    inbox = await mail.ListInbox(pb.ListInboxRequest(), metadata=bob.md)
    assert list(inbox.items) == []
    results = await send_many(
        mail, alice, [item(to=[bob.name], subject=f"n{i}") for i in range(500)]
    )
    assert len(set(sent_ids(results))) == 500


async def test_a_subscriber_receives_every_item_in_order(mail, alice, bob):
    call = mail.SubscribeInbox(pb.SubscribeInboxRequest(mail_only=True), metadata=bob.md)
    try:
        first = await call.read()
        assert first.WhichOneof("event") == "heartbeat"  # caught up: live from here
        ids = sent_ids(
            await send_many(mail, alice, [item(to=[bob.name], subject=f"s{i}") for i in range(40)])
        )
        seen: list[int] = []
        while len(seen) < len(ids):
            event = await asyncio.wait_for(call.read(), 10)
            if event.WhichOneof("event") == "item":
                seen.append(event.item.message.id)
        assert seen == ids
    finally:
        call.cancel()


async def test_search_finds_bulk_sent_mail_at_once(channel, mail, alice, bob):
    search = search_service_pb2_grpc.SearchServiceStub(channel)

    async def round_trip(worker: int, round_: int) -> None:
        word = f"zq{worker}x{round_}"
        ids = sent_ids(
            await send_many(
                mail, alice, [item(to=[bob.name], subject=f"{word} n{i}") for i in range(20)]
            )
        )
        for order in (spb.SEARCH_ORDER_NEWEST, spb.SEARCH_ORDER_RELEVANCE):
            page = await search.SearchMessages(
                spb.SearchMessagesRequest(query=word, page_size=50, order=order), metadata=bob.md
            )
            assert sorted(h.message.id for h in page.hits) == ids

    for round_ in range(5):
        await asyncio.gather(*(round_trip(worker, round_) for worker in range(4)))


async def test_a_repeated_item_is_judged_again_when_its_thread_differs(mail, agents, alice, bob):
    # Bob blocks everyone, but a thread he wrote in stays open to its members: only the items
    # in that thread reach him. (The writer reuses a verdict for a repeated sender, recipient
    # and thread within one call; the thread is part of what makes it a repeat.)
    await agents.SetContactPolicy(
        apb.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_OPEN), metadata=alice.md
    )
    opened = await mail.SendMessage(
        pb.SendMessageRequest(to=[alice.name], subject="s", body="b"), metadata=bob.md
    )
    thread = opened.message.thread_id
    await agents.SetContactPolicy(
        apb.SetContactPolicyRequest(policy=types_pb2.CONTACT_POLICY_BLOCK_ALL), metadata=bob.md
    )
    results = await send_many(
        mail,
        alice,
        [
            item(to=[bob.name], thread_id=thread),
            item(to=[bob.name]),
            item(to=[bob.name], thread_id=thread),
            item(to=[bob.name]),
        ],
    )
    assert [r.WhichOneof("outcome") for r in results] == ["sent", "error", "sent", "error"]
    assert {results[1].error.reason, results[3].error.reason} == {"CONTACT_BLOCKED"}
