"""``search_messages`` and ``summarize_thread`` against a real server on port 0: results, every
filter, paging to the end, typed errors with their reasons, and retries of these reads."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import agentmail_client as am
import grpc
import grpc.aio
import pytest

from ._support import CountingInterceptor

FAST_RETRY = am.RetryPolicy(max_attempts=4, initial_backoff=0.01, max_backoff=0.05)


@dataclasses.dataclass(frozen=True)
class Team:
    project: am.Project
    alice: am.AgentmailClient
    bob: am.AgentmailClient
    carol: am.AgentmailClient


@pytest.fixture
async def client(server: Any) -> AsyncIterator[am.AgentmailClient]:
    async with am.AgentmailClient(server.address, retry=FAST_RETRY) as opened:
        yield opened


@pytest.fixture
async def team(client: am.AgentmailClient) -> Team:
    project = (await client.ensure_project("/srv/repos/search")).project
    members = []
    for name in ("Alice", "Bob", "Carol"):
        member = client.with_token(None)
        await member.register_agent(project.slug, name)
        members.append(member)
    return Team(project, *members)


async def send(sender: am.AgentmailClient, to: str, subject: str, **fields: Any) -> am.Message:
    return (await sender.send_message(to=to, subject=subject, **fields)).message


async def all_hits(agent: am.AgentmailClient, query: str, **options: Any) -> list[am.SearchHit]:
    """Every hit of a search, page by page, checking each page's bound on the way."""
    hits: list[am.SearchHit] = []
    token = ""
    while True:
        page = await agent.search_messages(query, page_token=token, **options)
        assert len(page) <= options.get("page_size", 20)
        hits.extend(page)
        if not (token := page.next_page_token):
            return hits


async def test_search_returns_visible_hits_with_snippets_ranked_subject_first(
    team: Team,
) -> None:
    # Unrelated mail keeps the index's statistics realistic (bm25 needs rare words).
    for n in range(6):
        await send(team.alice, "Bob", f"standup {n}", body="nothing to report")
    in_body = await send(team.alice, "Bob", "Weekly notes", body="The deploy scripts moved.")
    in_subject = await send(team.alice, "Bob", "Deploy plan", body="Friday, after the freeze.")
    await send(team.alice, "Carol", "deploy for Carol only", body="deploy")

    page = await team.bob.search_messages("deploy")

    assert [hit.message.id for hit in page] == [in_subject.id, in_body.id]
    assert page.next_page_token == ""
    first, second = page.items
    assert first.score > second.score > 0
    assert first.snippet == "[Deploy] plan"
    assert "[deploy]" in second.snippet
    assert first.message == dataclasses.replace(in_subject, bcc=())
    assert first.message.body == "Friday, after the freeze."
    hash(first)  # frozen models are hashable


async def test_bcc_stays_private_in_search_results(team: Team) -> None:
    sent = await send(team.alice, "Bob", "Quiet rollout", bcc="Carol")
    views = {
        name: (await agent.search_messages("rollout")).items[0].message.bcc
        for name, agent in (("Alice", team.alice), ("Bob", team.bob), ("Carol", team.carol))
    }
    assert sent.bcc == ("Carol",)
    assert views == {"Alice": ("Carol",), "Bob": (), "Carol": ("Carol",)}


async def test_every_filter_narrows_the_search(team: Team) -> None:
    first = await send(team.alice, "Bob", "incident one", topic="ops")
    urgent = await send(
        team.alice, "Bob", "incident two", importance=am.Importance.URGENT, body="x" * 10
    )
    to_carol = await send(team.alice, "Carol", "incident three", cc="Bob", thread_id="INC-7")
    by_bob = await send(team.bob, "Alice", "incident four", thread_id="INC-7")

    async def ids(**options: Any) -> list[int]:
        return [hit.message.id for hit in await all_hits(team.bob, "incident", **options)]

    newest_first = [by_bob.id, to_carol.id, urgent.id, first.id]
    assert await ids(order=am.SearchOrder.NEWEST) == newest_first
    assert await ids(order=am.SearchOrder.NEWEST, scope=am.SearchScope.SENT) == [by_bob.id]
    assert (
        await ids(order=am.SearchOrder.NEWEST, scope=am.SearchScope.RECEIVED) == (newest_first[1:])
    )
    assert await ids(order=am.SearchOrder.NEWEST, sender="aLiCe") == newest_first[1:]
    assert await ids(recipient="carol") == [to_carol.id]
    assert await ids(order=am.SearchOrder.NEWEST, thread_id="INC-7") == [by_bob.id, to_carol.id]
    assert await ids(topic="ops") == [first.id]
    assert await ids(min_importance=am.Importance.HIGH) == [urgent.id]
    assert urgent.create_time is not None
    assert to_carol.create_time is not None
    window = await ids(
        order=am.SearchOrder.NEWEST,
        start_time=urgent.create_time,  # inclusive
        end_time=to_carol.create_time.astimezone(datetime.timezone(datetime.timedelta(hours=2))),
    )
    assert window == [urgent.id]  # end_time is exclusive, and any timezone is the same instant
    (bodiless,) = await all_hits(
        team.bob, "incident", min_importance=am.Importance.URGENT, include_bodies=False
    )
    assert (bodiless.message.body, bodiless.message.body_size_bytes) == ("", 10)


async def test_paging_visits_every_hit_once_and_ignores_mail_arriving_meanwhile(
    team: Team,
) -> None:
    matching = [
        (await send(team.alice, "Bob", f"report {n}", body="quarterly")).id for n in range(7)
    ]
    for order in am.SearchOrder:
        token = ""
        seen: list[int] = []
        pages = 0
        while True:
            page = await team.bob.search_messages(
                "quarterly", page_size=3, page_token=token, order=order
            )
            pages += 1
            seen.extend(hit.message.id for hit in page)
            if pages == 1:
                # Mail arriving after the first page neither shifts nor joins the results.
                late = await send(team.alice, "Bob", f"late {order.value}", body="quarterly")
            if not (token := page.next_page_token):
                break
        assert sorted(seen) == matching, order
        assert pages == 3
        if order is am.SearchOrder.NEWEST:
            assert seen == matching[::-1]
        # The next search sees it.
        matching.append(late.id)


async def test_search_errors_are_typed_with_their_reasons(team: Team) -> None:
    for bad_query in ("(deploy", "deploy AND", "*", ""):
        with pytest.raises(am.InvalidArgument) as bad:
            await team.bob.search_messages(bad_query)
        assert bad.value.reason == "INVALID_QUERY", bad_query
        assert [v.field for v in bad.value.field_violations] == ["query"]
        assert isinstance(bad.value.__cause__, grpc.aio.AioRpcError)
    with pytest.raises(am.NotFound) as unknown:
        await team.bob.search_messages("deploy", sender="Zed")
    assert unknown.value.reason == "AGENT_NOT_FOUND"
    assert unknown.value.metadata["field"] == "sender"
    with pytest.raises(am.InvalidArgument) as bad_name:
        await team.bob.search_messages("deploy", recipient="9lives")
    assert bad_name.value.reason == "INVALID_AGENT_NAME"
    with pytest.raises(am.InvalidArgument) as bad_token:
        await team.bob.search_messages("deploy", page_token="garbage")
    assert bad_token.value.reason == "INVALID_PAGE_TOKEN"
    # A token of one search is not accepted for another.
    for n in range(3):
        await send(team.alice, "Bob", f"deploy {n}")
    page = await team.bob.search_messages("deploy", page_size=2)
    with pytest.raises(am.InvalidArgument) as other_search:
        await team.bob.search_messages(
            "deploy", page_size=2, page_token=page.next_page_token, topic="x"
        )
    assert other_search.value.reason == "INVALID_PAGE_TOKEN"
    with pytest.raises(ValueError, match="timezone-aware"):
        await team.bob.search_messages("deploy", start_time=datetime.datetime(2026, 1, 1))


async def test_search_and_summary_need_a_valid_token(team: Team) -> None:
    anonymous = team.alice.with_token(None)
    stranger = team.alice.with_token("am_not-a-real-token")
    calls: list[Callable[[am.AgentmailClient], Awaitable[object]]] = [
        lambda agent: agent.search_messages("deploy"),
        lambda agent: agent.summarize_thread("1"),
    ]
    for call in calls:
        with pytest.raises(am.Unauthenticated) as missing:
            await call(anonymous)
        assert missing.value.reason == "TOKEN_MISSING"
        with pytest.raises(am.Unauthenticated) as invalid:
            await call(stranger)
        assert invalid.value.reason == "TOKEN_INVALID"


async def test_summarize_thread_reports_participants_items_and_recent_messages(
    team: Team,
) -> None:
    opening = await send(
        team.alice,
        "Bob",
        "Release 1.4",
        cc="Carol",
        body="Plan:\n- [ ] tag the release\n- [x] freeze main\nTODO: update the docs",
    )
    reply = (await team.bob.reply_message(opening.id, body="BLOCKED on the CI runner")).message
    last = (await team.alice.reply_message(reply.id, body="ok", cc="Carol")).message

    summary = await team.carol.summarize_thread(opening.thread_id, recent_count=2)

    assert summary.thread_id == opening.thread_id
    assert summary.subject == "Release 1.4"
    # Bob's reply went to Alice only: Carol sees two of the three messages.
    assert summary.message_count == 2
    assert summary.participants == ("Alice", "Bob", "Carol")
    assert (summary.first_time, summary.last_time) == (opening.create_time, last.create_time)
    assert [m.id for m in summary.recent_messages] == [opening.id, last.id]
    assert summary.recent_messages[0].body.startswith("Plan:")
    assert summary.action_items == (
        am.ActionItem(opening.id, "Alice", "tag the release", "checkbox"),
        am.ActionItem(opening.id, "Alice", "TODO: update the docs", "TODO"),
    )

    full = await team.bob.summarize_thread(opening.thread_id)
    assert full.message_count == 3
    assert [m.id for m in full.recent_messages] == [opening.id, reply.id, last.id]
    assert [item.kind for item in full.action_items] == ["checkbox", "TODO", "BLOCKED"]
    assert full.action_items[-1].author == "Bob"
    hash(full)


async def test_summaries_keep_bcc_private(team: Team) -> None:
    sent = await send(team.alice, "Bob", "Heads-up", bcc="Carol")
    seen = {
        name: (await agent.summarize_thread(sent.thread_id)).participants
        for name, agent in (("Alice", team.alice), ("Bob", team.bob), ("Carol", team.carol))
    }
    assert seen == {
        "Alice": ("Alice", "Bob", "Carol"),
        "Bob": ("Alice", "Bob"),
        "Carol": ("Alice", "Bob", "Carol"),
    }


async def test_summarize_thread_errors_are_typed(team: Team) -> None:
    sent = await send(team.alice, "Bob", "Private")
    with pytest.raises(am.NotFound) as hidden:
        await team.carol.summarize_thread(sent.thread_id)
    assert hidden.value.reason == "THREAD_NOT_FOUND"
    assert hidden.value.metadata["threadId"] == sent.thread_id
    with pytest.raises(am.InvalidArgument) as empty:
        await team.bob.summarize_thread("")
    assert [v.field for v in empty.value.field_violations] == ["thread_id"]
    with pytest.raises(am.InvalidArgument) as negative:
        await team.bob.summarize_thread(sent.thread_id, recent_count=-1)
    assert [v.field for v in negative.value.field_violations] == ["recent_count"]


async def test_search_and_summary_are_retried_as_reads(hung_address: str) -> None:
    counter = CountingInterceptor()
    retry = am.RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0)
    async with am.AgentmailClient(
        hung_address, token="am_x", retry=retry, interceptors=[counter]
    ) as client:
        with pytest.raises(am.DeadlineExceeded):
            await client.search_messages("deploy", timeout=0.05)
        with pytest.raises(am.DeadlineExceeded):
            await client.summarize_thread("1", timeout=0.05)
    assert counter.count("SearchMessages") == 3
    assert counter.count("SummarizeThread") == 3
