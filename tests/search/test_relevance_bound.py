"""Bounded relevance: a relevance search ranks only the newest ``search_relevance_candidates``
matches the caller can see (here 4), so its cost does not grow with the corpus; newest-first
order still lists every match."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from agentmail.v1 import search_service_pb2 as spb

CANDIDATES = 4


@pytest.fixture
async def server(tmp_path: pathlib.Path, start_server: Callable[..., Any]) -> AsyncIterator[Any]:
    """The shared fixtures' server, with a tiny candidate set."""
    async with start_server(tmp_path / "data", search_relevance_candidates=CANDIDATES) as srv:
        yield srv


async def _strong_then_weak(send, alice, to: str = "Bob") -> tuple[int, list[int]]:
    """One strong match, then CANDIDATES weak ones (newer): the strong one's id and theirs."""
    strong = await send(alice, to=[to], subject="Deploy deploy", body="deploy deploy deploy")
    weak = [
        (await send(alice, to=[to], subject=f"note {i}", body=f"filler words then deploy {i}")).id
        for i in range(CANDIDATES)
    ]
    return strong.id, weak


async def test_relevance_ranks_only_the_newest_candidates(send, search, alice, bob):
    strong, weak = await _strong_then_weak(send, alice)
    ranked = await search(bob, "deploy", page_size=100)
    # The best match overall is older than the newest CANDIDATES matches: left out.
    assert sorted(hit.message.id for hit in ranked.hits) == sorted(weak)
    assert strong not in {hit.message.id for hit in ranked.hits}
    assert ranked.next_page_token == ""
    newest = await search(bob, "deploy", page_size=100, order=spb.SEARCH_ORDER_NEWEST)
    assert [hit.message.id for hit in newest.hits] == sorted([strong, *weak], reverse=True)


async def test_within_the_candidates_the_best_match_comes_first(send, search, alice, bob):
    await send(alice, to=["Bob"], subject="old", body="deploy")  # outside the candidates
    weak = [(await send(alice, to=["Bob"], subject="x", body="a b c d deploy")).id for _ in "ab"]
    strong = (await send(alice, to=["Bob"], subject="Deploy", body="deploy deploy")).id
    newest_weak = (await send(alice, to=["Bob"], subject="y", body="e f g h deploy")).id
    ranked = await search(bob, "deploy", page_size=100)
    ids = [hit.message.id for hit in ranked.hits]
    assert ids[0] == strong
    assert sorted(ids) == sorted([*weak, strong, newest_weak])
    scores = [hit.score for hit in ranked.hits]
    assert scores == sorted(scores, reverse=True) and scores[-1] > 0


async def test_mail_the_caller_cannot_see_does_not_use_up_candidates(send, search, alice, bob):
    seen = [(await send(alice, to=["Bob"], subject="deploy", body="")).id for _ in "ab"]
    for _ in range(CANDIDATES):  # newer, to Carol only
        await send(alice, to=["Carol"], subject="deploy", body="")
    ranked = await search(bob, "deploy", page_size=100)
    assert sorted(hit.message.id for hit in ranked.hits) == seen


async def test_filters_apply_before_the_bound(send, search, alice, bob, team):
    carol = team["Carol"]
    from_carol = (await send(carol, to=["Bob"], subject="deploy", body="")).id
    for _ in range(CANDIDATES):  # newer, from Alice
        await send(alice, to=["Bob"], subject="deploy", body="")
    ranked = await search(bob, "deploy", sender="Carol")
    assert [hit.message.id for hit in ranked.hits] == [from_carol]


async def test_pages_of_a_bounded_ranking_cover_the_candidates_once(
    send, search, search_all, alice, bob
):
    _, weak = await _strong_then_weak(send, alice)
    paged = await search_all(bob, "deploy", page_size=3)
    assert sorted(hit.message.id for hit in paged) == sorted(weak)
    one_page = await search(bob, "deploy", page_size=100)
    assert [(h.message.id, h.score) for h in paged] == [
        (h.message.id, h.score) for h in one_page.hits
    ]
