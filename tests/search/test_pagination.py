"""Pagination: both orders visit every hit once, pages come from the mail that existed at the
first page even while matching mail keeps arriving, and tokens belong to one order."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import search_service_pb2 as spb

ORDERS = (spb.SEARCH_ORDER_RELEVANCE, spb.SEARCH_ORDER_NEWEST)


async def send_matching(send, sender, count, start=0, **fields):
    """``count`` messages matching "omega" with varied term counts and lengths."""
    return await asyncio.gather(
        *(
            send(
                sender,
                to=["Bob"],
                subject=f"omega report {i}" if i % 3 == 0 else f"report {i}",
                body=" ".join(["omega"] * (1 + i % 4) + ["filler"] * (i % 7)),
                **fields,
            )
            for i in range(start, start + count)
        )
    )


def assert_unique(hits):
    ids = [hit.message.id for hit in hits]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"ids repeated across pages: {duplicates}"
    return set(ids)


@pytest.mark.parametrize("order", ORDERS, ids=["relevance", "newest"])
@pytest.mark.parametrize("page_size", [1, 7, 10, 100])
async def test_pages_visit_every_hit_exactly_once(
    send, search, search_all, alice, bob, order, page_size
):
    matching = await send_matching(send, alice, 45)
    await asyncio.gather(*(send(alice, to=["Bob"], subject=f"other {i}") for i in range(10)))
    hits = await search_all(bob, "omega", page_size=page_size, order=order)
    assert assert_unique(hits) == {m.id for m in matching}
    # Paging returns the single-page order exactly.
    whole = await search(bob, "omega", page_size=100, order=order)
    assert [h.message.id for h in hits] == [h.message.id for h in whole.hits]
    if order == spb.SEARCH_ORDER_NEWEST:
        ids = [h.message.id for h in hits]
        assert ids == sorted(ids, reverse=True)


async def test_default_page_size_is_20_and_large_sizes_are_clamped_to_100(send, search, alice, bob):
    await send_matching(send, alice, 120)
    first = await search(bob, "omega")
    assert len(first.hits) == 20
    assert first.next_page_token
    big = await search(bob, "omega", page_size=1000)
    assert len(big.hits) == 100
    assert big.next_page_token


@pytest.mark.parametrize("order", ORDERS, ids=["relevance", "newest"])
async def test_mail_sent_between_pages_never_shifts_or_repeats_results(
    send, search_all, alice, bob, carol, order
):
    before = {m.id for m in await send_matching(send, alice, 30)}
    arrived: list[int] = []

    async def send_better_matches() -> None:
        # Mail that would rank first (subject and body full of the term) and is newest.
        for sender in (alice, carol):
            sent = await send(sender, to=["Bob"], subject="omega omega omega", body="omega " * 20)
            arrived.append(sent.id)

    hits = await search_all(bob, "omega", page_size=4, order=order, between=send_better_matches)
    assert len(arrived) >= 14
    assert assert_unique(hits) == before
    # A new search sees everything.
    everything = await search_all(bob, "omega", page_size=100, order=order)
    assert assert_unique(everything) == before | set(arrived)


async def test_relevance_pages_do_not_shift_when_new_mail_changes_term_statistics(
    send, search_all, alice, bob, carol
):
    """bm25 depends on index-wide statistics (how many rows contain each term, average
    lengths). Mail arriving mid-search - here, in another conversation - must not reorder
    the pages already promised by the first one."""
    await asyncio.gather(
        *(send(carol, to=["Dave"], subject=f"noise {i}", body="nothing to see") for i in range(60))
    )
    rare = {
        m.id
        for m in await asyncio.gather(
            *(send(alice, to=["Bob"], subject=f"x {i}", body="alpha once") for i in range(10))
        )
    }
    common = {
        m.id
        for m in await asyncio.gather(
            *(send(alice, to=["Bob"], subject=f"y {i}", body="beta once") for i in range(12))
        )
    }
    flooded = False

    async def make_alpha_common() -> None:
        nonlocal flooded
        if not flooded:
            flooded = True
            await asyncio.gather(
                *(send(carol, to=["Dave"], subject=f"z {i}", body="alpha") for i in range(40))
            )

    hits = await search_all(bob, "alpha OR beta", page_size=5, between=make_alpha_common)
    assert flooded
    assert assert_unique(hits) == rare | common


async def test_pages_stay_consistent_while_sends_run_concurrently(send, search_all, alice, bob):
    before = {m.id for m in await send_matching(send, alice, 40)}
    acked: list[int] = []
    first_page_done = asyncio.Event()
    started_after_first_page: set[int] = set()

    async def keep_sending() -> None:
        for i in range(60):
            late = first_page_done.is_set()
            sent = await send(alice, to=["Bob"], subject=f"omega live {i}", body="omega omega")
            acked.append(sent.id)
            if late:
                started_after_first_page.add(sent.id)

    async def mark_first_page() -> None:
        first_page_done.set()

    sender = asyncio.create_task(keep_sending())
    try:
        hits = await search_all(bob, "omega", page_size=5, between=mark_first_page)
    finally:
        await asyncio.wait_for(sender, 30)
    assert started_after_first_page, "no send overlapped the paging"
    found = assert_unique(hits)
    assert before <= found
    snapshot = max(found)
    assert found == before | {i for i in acked if i <= snapshot}, "a message was missed"
    assert not found & started_after_first_page


async def test_page_tokens_belong_to_one_order(send, search, mail_stub, expect_error, alice, bob):
    await send_matching(send, alice, 5)
    relevance = await search(bob, "omega", page_size=2, order=spb.SEARCH_ORDER_RELEVANCE)
    newest = await search(bob, "omega", page_size=2, order=spb.SEARCH_ORDER_NEWEST)
    default = await search(bob, "omega", page_size=2)
    assert relevance.next_page_token and newest.next_page_token
    # Unspecified order is relevance: its tokens are interchangeable with relevance tokens.
    await search(
        bob,
        "omega",
        page_size=2,
        page_token=default.next_page_token,
        order=spb.SEARCH_ORDER_RELEVANCE,
    )
    inbox = await mail_stub.ListInbox(mpb.ListInboxRequest(page_size=1), metadata=bob.md)
    cases = [
        (relevance.next_page_token, spb.SEARCH_ORDER_NEWEST),
        (newest.next_page_token, spb.SEARCH_ORDER_RELEVANCE),
        (newest.next_page_token, spb.SEARCH_ORDER_UNSPECIFIED),
        (inbox.next_page_token, spb.SEARCH_ORDER_RELEVANCE),
        (inbox.next_page_token, spb.SEARCH_ORDER_NEWEST),
        ("not-a-token", spb.SEARCH_ORDER_RELEVANCE),
        ("!!!", spb.SEARCH_ORDER_NEWEST),
    ]
    for token, order in cases:
        await expect_error(
            search(bob, "omega", page_size=2, page_token=token, order=order),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_PAGE_TOKEN",
            field="page_token",
        )


@pytest.mark.parametrize("order", ORDERS)
async def test_page_tokens_belong_to_their_caller_and_search(
    send, search, expect_error, alice, bob, carol, order
):
    """A token pages the one search it came from, for the agent it was given to: another
    agent who sees the same mail, or the same agent with another query or filter, is refused
    rather than handed a page of a different result set."""
    await send_matching(send, alice, 6, cc=[carol.name])
    first = await search(bob, "omega", page_size=2, order=order)
    assert first.next_page_token
    # Carol sees exactly the same mail, so only the binding to Bob can refuse her.
    assert [h.message.id for h in (await search(carol, "omega", page_size=2, order=order)).hits]
    refusals = [
        search(carol, "omega", page_size=2, page_token=first.next_page_token, order=order),
        search(bob, "report", page_size=2, page_token=first.next_page_token, order=order),
        search(bob, "omega", page_size=2, page_token=first.next_page_token, order=order, topic="x"),
        search(bob, "omega", page_size=2, page_token=first.next_page_token[:-2], order=order),
    ]
    for refused in refusals:
        await expect_error(
            refused, grpc.StatusCode.INVALID_ARGUMENT, "INVALID_PAGE_TOKEN", field="page_token"
        )
    # The token still works where it belongs.
    assert (
        await search(bob, "omega", page_size=2, page_token=first.next_page_token, order=order)
    ).hits
