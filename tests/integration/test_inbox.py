"""ListInbox: ownership, both orders, paging by cursor, filters, bodies and page tokens."""

from __future__ import annotations

import asyncio
import itertools

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as pb
from agentmail.v1 import types_pb2
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL

INVALID = grpc.StatusCode.INVALID_ARGUMENT
OLDEST = pb.INBOX_ORDER_OLDEST_FIRST
NEWEST = pb.INBOX_ORDER_NEWEST_FIRST


async def page(mail, agent, **fields) -> pb.ListInboxResponse:
    return await mail.ListInbox(pb.ListInboxRequest(**fields), metadata=agent.md)


async def newest_first_pages(mail, agent, page_size: int, **filters) -> list[list[int]]:
    pages: list[list[int]] = []
    token = ""
    for _ in range(1000):
        response = await page(
            mail, agent, order=NEWEST, page_size=page_size, page_token=token, **filters
        )
        pages.append([i.message.id for i in response.items])
        assert not response.next_page_token or response.next_page_token != token, "no progress"
        if not response.next_page_token:
            return pages
        token = response.next_page_token
    raise AssertionError("NEWEST_FIRST paging never ended")


async def test_inbox_holds_only_the_callers_mail(mail, send, alice, bob, carol, read_inbox):
    to_bob = await send(alice, to=[bob.name])
    to_carol = await send(alice, to=[carol.name])
    from_bob = await send(bob, to=[alice.name])

    assert [i.message.id for i in await read_inbox(bob)] == [to_bob.id]
    assert [i.message.id for i in await read_inbox(carol)] == [to_carol.id]
    assert [i.message.id for i in await read_inbox(alice)] == [from_bob.id]


async def test_inbox_default_is_oldest_first_with_items_fully_described(
    mail, send, alice, bob, carol
):
    first = await send(alice, to=[bob.name], subject="first")
    second = await send(carol, cc=[bob.name], subject="second")
    third = await send(alice, bcc=[bob.name], subject="third")

    response = await page(mail, bob)

    assert [i.message.id for i in response.items] == [first.id, second.id, third.id]
    assert [i.kind for i in response.items] == [
        types_pb2.RECIPIENT_KIND_TO,
        types_pb2.RECIPIENT_KIND_CC,
        types_pb2.RECIPIENT_KIND_BCC,
    ]
    assert [i.message.subject for i in response.items] == ["first", "second", "third"]
    assert [i.message.sender for i in response.items] == ["Alice", "Carol", "Alice"]
    assert all(i.cursor for i in response.items)
    assert len({i.cursor for i in response.items}) == 3
    assert not any(i.HasField("read_time") or i.HasField("ack_time") for i in response.items)
    assert response.next_page_token
    explicit = await page(mail, bob, order=OLDEST)
    assert explicit == response


async def test_inbox_default_page_size_is_50(mail, send_many, alice, bob):
    await send_many(alice, 51, to=[bob.name])

    response = await page(mail, bob)
    rest = await page(mail, bob, page_token=response.next_page_token)

    assert len(response.items) == 50
    assert len(rest.items) == 1


async def test_inbox_rejects_negative_page_size(mail, alice, expect_error):
    await expect_error(
        page(mail, alice, page_size=-1), INVALID, "INVALID_ARGUMENT", field="page_size"
    )


async def test_oldest_first_token_is_set_on_every_nonempty_page_and_resumes_later(
    mail, send, alice, bob
):
    first = await send(alice, to=[bob.name])
    second = await send(alice, to=[bob.name])

    full = await page(mail, bob, page_size=10)
    empty = await page(mail, bob, page_size=10, page_token=full.next_page_token)
    third = await send(alice, to=[bob.name])
    resumed = await page(mail, bob, page_size=10, page_token=full.next_page_token)

    assert [i.message.id for i in full.items] == [first.id, second.id]
    assert full.next_page_token
    assert list(empty.items) == []
    assert empty.next_page_token == ""
    assert [i.message.id for i in resumed.items] == [third.id]


async def test_item_cursor_continues_strictly_after_that_item(mail, send_many, alice, bob):
    sent = await send_many(alice, 6, batch=1, to=[bob.name])
    items = (await page(mail, bob)).items

    after_second = await page(mail, bob, page_token=items[1].cursor)

    assert [i.message.id for i in after_second.items] == [m.id for m in sent[2:]]


async def test_paging_over_1000_messages_visits_each_exactly_once_in_id_order(
    mail, send, alice, bob, carol, read_inbox
):
    senders = [alice, carol]
    sent = []
    for start in range(0, 1030, 50):
        sent += await asyncio.gather(
            *(
                send(senders[i % 2], to=[bob.name], subject=f"m{i}")
                for i in range(start, min(start + 50, 1030))
            )
        )

    items = await read_inbox(bob, page_size=97)
    got = [i.message.id for i in items]

    assert len(got) == 1030
    assert all(a < b for a, b in itertools.pairwise(got))
    assert set(got) == {m.id for m in sent}
    assert len({i.cursor for i in items}) == 1030

    clamped = await page(mail, bob, page_size=100_000)
    assert [i.message.id for i in clamped.items] == got[:500]
    default = await page(mail, bob, page_token=clamped.next_page_token)
    assert [i.message.id for i in default.items] == got[500:550]


async def test_newest_first_pages_in_strictly_decreasing_order(mail, send_many, alice, bob):
    sent = await send_many(alice, 7, batch=1, to=[bob.name])

    pages = await newest_first_pages(mail, bob, page_size=3)

    assert pages == [
        [m.id for m in reversed(sent[4:7])],
        [m.id for m in reversed(sent[1:4])],
        [sent[0].id],
    ]


async def test_newest_first_last_full_page_has_no_token(mail, send_many, alice, bob):
    sent = await send_many(alice, 6, batch=1, to=[bob.name])

    pages = await newest_first_pages(mail, bob, page_size=3)

    flat = [i for p in pages for i in p]
    assert flat == [m.id for m in reversed(sent)]
    assert pages[-1] != []
    assert len(pages) == 2


async def test_newest_first_of_empty_inbox_is_one_empty_page(mail, alice):
    response = await page(mail, alice, order=NEWEST)

    assert list(response.items) == []
    assert response.next_page_token == ""


async def test_page_token_of_one_order_is_rejected_by_the_other(
    mail, send_many, alice, bob, expect_error
):
    await send_many(alice, 3, to=[bob.name])
    oldest = await page(mail, bob, page_size=1)
    newest = await page(mail, bob, page_size=1, order=NEWEST)
    assert oldest.next_page_token and newest.next_page_token

    await expect_error(
        page(mail, bob, order=NEWEST, page_token=oldest.next_page_token),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )
    await expect_error(
        page(mail, bob, order=NEWEST, page_token=oldest.items[0].cursor),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )
    await expect_error(
        page(mail, bob, page_token=newest.next_page_token),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )
    await expect_error(
        page(mail, bob, order=OLDEST, page_token=newest.next_page_token),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )


@pytest.mark.parametrize("token", ["garbage", "====", "AAAAAAAA", "€uro", "x" * 4096])
@pytest.mark.parametrize("order", [OLDEST, NEWEST])
async def test_garbage_page_token_is_rejected(mail, alice, expect_error, token, order):
    await expect_error(
        page(mail, alice, order=order, page_token=token),
        INVALID,
        "INVALID_PAGE_TOKEN",
        field="page_token",
    )


async def test_listing_never_changes_read_state(mail, send, alice, bob, read_inbox):
    await send(alice, to=[bob.name])

    await page(mail, bob, view=MESSAGE_VIEW_FULL)
    await page(mail, bob, order=NEWEST)
    items = await read_inbox(bob, unread_only=True)

    assert len(items) == 1
    assert not items[0].HasField("read_time")


async def test_unread_only_skips_read_messages(mail, send_many, alice, bob, read_inbox):
    sent = await send_many(alice, 5, batch=1, to=[bob.name])
    marked = await mail.MarkRead(
        pb.MarkReadRequest(message_ids=[sent[1].id, sent[3].id]), metadata=bob.md
    )
    read_times = {s.message_id: s.read_time for s in marked.states}

    unread = await read_inbox(bob, page_size=1, unread_only=True)
    everything = await read_inbox(bob)

    assert [i.message.id for i in unread] == [sent[0].id, sent[2].id, sent[4].id]
    assert [i.HasField("read_time") for i in everything] == [False, True, False, True, False]
    assert {i.message.id: i.read_time for i in everything if i.HasField("read_time")} == read_times


async def test_urgent_only_keeps_high_and_urgent(mail, send, alice, bob, read_inbox):
    levels = [
        types_pb2.IMPORTANCE_LOW,
        types_pb2.IMPORTANCE_URGENT,
        types_pb2.IMPORTANCE_UNSPECIFIED,
        types_pb2.IMPORTANCE_HIGH,
        types_pb2.IMPORTANCE_NORMAL,
    ]
    sent = [await send(alice, to=[bob.name], importance=level) for level in levels]

    urgent = await read_inbox(bob, urgent_only=True)
    newest = await page(mail, bob, urgent_only=True, order=NEWEST)

    assert [i.message.id for i in urgent] == [sent[1].id, sent[3].id]
    assert [i.message.importance for i in urgent] == [
        types_pb2.IMPORTANCE_URGENT,
        types_pb2.IMPORTANCE_HIGH,
    ]
    assert [i.message.id for i in newest.items] == [sent[3].id, sent[1].id]
    assert sent[2].importance == types_pb2.IMPORTANCE_NORMAL


async def test_topic_filter_matches_exactly(mail, send, alice, bob, read_inbox):
    build = await send(alice, to=[bob.name], topic="build")
    await send(alice, to=[bob.name], topic="Build")
    await send(alice, to=[bob.name], topic="builds")
    await send(alice, to=[bob.name])
    build_again = await send(alice, to=[bob.name], topic="build")

    items = await read_inbox(bob, topic="build")

    assert [i.message.id for i in items] == [build.id, build_again.id]


async def test_thread_filter_matches_exactly(mail, send, alice, bob, read_inbox):
    named = await send(alice, to=[bob.name], thread_id="T-1")
    await send(alice, to=[bob.name], thread_id="t-1")
    await send(alice, to=[bob.name], thread_id="T-10")
    started = await send(alice, to=[bob.name])
    joined = await send(alice, to=[bob.name], thread_id=started.thread_id)
    named_again = await send(alice, to=[bob.name], thread_id="T-1")

    assert [i.message.id for i in await read_inbox(bob, thread_id="T-1")] == [
        named.id,
        named_again.id,
    ]
    assert [i.message.id for i in await read_inbox(bob, thread_id=started.thread_id)] == [
        started.id,
        joined.id,
    ]


async def test_filters_combine(mail, send, alice, bob, read_inbox):
    match = await send(alice, to=[bob.name], topic="ops", importance=types_pb2.IMPORTANCE_HIGH)
    await send(alice, to=[bob.name], topic="ops", importance=types_pb2.IMPORTANCE_LOW)
    await send(alice, to=[bob.name], topic="dev", importance=types_pb2.IMPORTANCE_HIGH)
    read = await send(alice, to=[bob.name], topic="ops", importance=types_pb2.IMPORTANCE_URGENT)
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[read.id]), metadata=bob.md)

    items = await read_inbox(bob, topic="ops", urgent_only=True, unread_only=True)

    assert [i.message.id for i in items] == [match.id]


@pytest.fixture
async def thread_mix(mail, send, alice, bob):
    """Bob's mail in thread T-9 and, with the same topics and importances, outside it.

    Returns the T-9 messages by label: ``ops_high`` (read by Bob), ``ops_urgent``, ``dev_high``
    and ``ops_low``. Filters combined with ``thread_id`` take a query of their own.
    """
    high, urgent, low = (
        types_pb2.IMPORTANCE_HIGH,
        types_pb2.IMPORTANCE_URGENT,
        types_pb2.IMPORTANCE_LOW,
    )
    in_thread = {}
    for label, topic, importance in [
        ("ops_high", "ops", high),
        ("ops_urgent", "ops", urgent),
        ("dev_high", "dev", high),
        ("ops_low", "ops", low),
    ]:
        in_thread[label] = await send(
            alice, to=[bob.name], thread_id="T-9", topic=topic, importance=importance
        )
        # The same mail outside the thread: a thread filter that ignored the others would
        # still have to tell these apart.
        await send(alice, to=[bob.name], thread_id="T-8", topic=topic, importance=importance)
    await mail.MarkRead(pb.MarkReadRequest(message_ids=[in_thread["ops_high"].id]), metadata=bob.md)
    return in_thread


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["ops_high", "ops_urgent", "dev_high", "ops_low"]),
        ({"unread_only": True}, ["ops_urgent", "dev_high", "ops_low"]),
        ({"urgent_only": True}, ["ops_high", "ops_urgent", "dev_high"]),
        ({"topic": "ops"}, ["ops_high", "ops_urgent", "ops_low"]),
        ({"topic": "dev", "urgent_only": True}, ["dev_high"]),
        ({"topic": "ops", "urgent_only": True, "unread_only": True}, ["ops_urgent"]),
        ({"topic": "none"}, []),
    ],
)
async def test_filters_combine_with_a_thread(mail, thread_mix, bob, read_inbox, filters, expected):
    want = [thread_mix[label].id for label in expected]

    oldest = await read_inbox(bob, page_size=1, thread_id="T-9", **filters)
    newest = await newest_first_pages(mail, bob, 1, thread_id="T-9", **filters)
    without_bodies = await read_inbox(bob, thread_id="T-9", view=MESSAGE_VIEW_ENVELOPE, **filters)

    assert [i.message.id for i in oldest] == want
    assert [m for p in newest for m in p] == want[::-1]
    assert all(i.message.thread_id == "T-9" for i in oldest)
    assert all(i.message.body == "body text" for i in oldest)
    assert [i.message.id for i in without_bodies] == want
    assert all(i.message.body == "" for i in without_bodies)


async def test_bodies_are_included_unless_left_out(mail, send, alice, bob):
    # A raw client that sets nothing (grpcurl, Go, Node) gets the useful answer: bodies.
    body = "ünïcode body " * 10
    sent = await send(alice, to=[bob.name], body=body)

    default = await page(mail, bob)
    explicit_full = await page(mail, bob, view=MESSAGE_VIEW_FULL)
    envelope = await page(mail, bob, view=MESSAGE_VIEW_ENVELOPE)

    for response in (default, explicit_full):
        assert response.items[0].message.body == body
        assert response.items[0].message.body_size_bytes == len(body.encode())
    assert envelope.items[0].message.body == ""
    assert envelope.items[0].message.body_size_bytes == len(body.encode())
    assert envelope.items[0].message.subject == sent.subject
