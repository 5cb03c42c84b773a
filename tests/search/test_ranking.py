"""Ranking: bm25 with the subject weighted above the body, scores falling page by page,
snippets marking matches with [ and ]."""

from __future__ import annotations

import pytest
from agentmail.v1 import search_service_pb2 as spb

FILLER = (
    ("Lunch menu", "soup and bread on friday"),
    ("Printer", "the printer on floor two is out of toner"),
    ("Holiday", "office closed next monday"),
    ("Parking", "new parking rules from march"),
    ("Coffee", "the machine was repaired this morning"),
    ("Badges", "collect new badges at reception"),
    ("Fire drill", "there is a drill at three"),
    ("Plants", "please water the plants"),
)


async def seed(send, alice, bob):
    """The fixed corpus; returns the ids of the four 'deploy' messages by name."""
    for subject, body in FILLER:
        await send(alice, to=["Bob"], subject=subject, body=body)
    corpus = {
        "both": ("Deploy plan", "deploy at noon"),
        "subject": ("Deploy checklist", "steps for the release train today"),
        "body_once": ("Weekly sync", "we deploy the service after the release train today"),
        "body_thrice": ("Weekly sync notes", "deploy then deploy again and deploy once more today"),
    }
    ids = {}
    # Sent in reverse of the expected ranking so that id order cannot explain the result.
    for name in ("body_once", "body_thrice", "subject", "both"):
        subject, body = corpus[name]
        ids[name] = (await send(alice, to=["Bob"], subject=subject, body=body)).id
    return ids


async def test_subject_matches_outrank_body_matches_and_more_matches_rank_higher(
    send, search, alice, bob
):
    ids = await seed(send, alice, bob)
    response = await search(bob, "deploy")
    assert [hit.message.id for hit in response.hits] == [
        ids["both"],
        ids["subject"],
        ids["body_thrice"],
        ids["body_once"],
    ]
    assert response.next_page_token == ""


async def test_relevance_scores_are_positive_and_decrease_monotonically(send, search, alice, bob):
    await seed(send, alice, bob)
    for query in ("deploy", "deploy OR today", "release OR train OR deploy", "the"):
        response = await search(alice, query, page_size=100)
        scores = [hit.score for hit in response.hits]
        assert scores, query
        assert all(score > 0 for score in scores), (query, scores)
        assert scores == sorted(scores, reverse=True), (query, scores)


@pytest.mark.parametrize("query", ["deploy OR today OR the", "depl* OR tod*"])
async def test_relevance_order_is_the_same_when_paged(send, search, search_all, alice, bob, query):
    await seed(send, alice, bob)
    one_page = await search(bob, query, page_size=100)
    paged = await search_all(bob, query, page_size=2)
    assert [h.message.id for h in paged] == [h.message.id for h in one_page.hits]
    assert [h.score for h in paged] == [h.score for h in one_page.hits]


async def test_newest_order_lists_hits_by_descending_id(send, search, alice, bob):
    ids = await seed(send, alice, bob)
    response = await search(bob, "deploy", order=spb.SEARCH_ORDER_NEWEST)
    assert [hit.message.id for hit in response.hits] == sorted(ids.values(), reverse=True)


async def test_snippets_wrap_each_match_in_brackets(send, search, alice, bob):
    ids = await seed(send, alice, bob)
    hits = {hit.message.id: hit for hit in (await search(bob, "deploy")).hits}
    assert "[Deploy]" in hits[ids["subject"]].snippet
    assert hits[ids["body_thrice"]].snippet.count("[deploy]") == 3
    assert "[deploy]" in hits[ids["body_once"]].snippet
    for hit in hits.values():
        # Every bracketed span is a match of the query, nothing else is bracketed.
        inside = [part.split("]")[0] for part in hit.snippet.split("[")[1:]]
        assert inside, hit.snippet
        assert {word.lower() for word in inside} == {"deploy"}, hit.snippet


async def test_snippet_marks_prefix_and_phrase_matches(send, search, alice, bob):
    await seed(send, alice, bob)
    prefix = await search(bob, "depl*")
    assert prefix.hits
    assert all("[Depl" in h.snippet or "[depl" in h.snippet for h in prefix.hits)
    phrase = await search(bob, '"release train"')
    assert len(phrase.hits) == 2
    for hit in phrase.hits:
        assert "[release] [train]" in hit.snippet or "[release train]" in hit.snippet, hit.snippet


async def test_snippet_of_a_long_body_is_an_excerpt_around_the_match(send, search, alice, bob):
    words = [f"w{i}" for i in range(400)]
    words[300] = "needle"
    sent = await send(alice, to=["Bob"], subject="long", body=" ".join(words))
    [hit] = (await search(bob, "needle")).hits
    assert hit.message.id == sent.id
    assert "[needle]" in hit.snippet
    assert len(hit.snippet) < 200, hit.snippet
    assert "…" in hit.snippet
