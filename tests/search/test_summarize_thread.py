"""SummarizeThread: participants (bcc private), size and time span, open action items and the
latest messages - all computed from the messages the caller can see."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1.types_pb2 import MESSAGE_VIEW_FULL

PLAN_BODY = """Plan for the launch.
- [ ] write tests
* [ ] update docs
1. [ ] ship it
- [x] done already
- [X] also done
TODO: rotate keys
TODOS are not markers
this is actionable but not an item
"""
REPLY_BODY = "Sounds good.\nACTION: Carol to review\n  BLOCKED on infra  \n+ [ ] plus box"


@pytest.fixture
def summarize(mail_stub):
    async def _summarize(agent, thread_id, **fields):
        return await mail_stub.SummarizeThread(
            mpb.SummarizeThreadRequest(thread_id=thread_id, **fields), metadata=agent.md
        )

    return _summarize


@pytest.fixture
def get_thread(mail_stub):
    async def _get(agent, thread_id):
        response = await mail_stub.GetThread(
            mpb.GetThreadRequest(thread_id=thread_id, view=MESSAGE_VIEW_FULL, page_size=500),
            metadata=agent.md,
        )
        assert response.next_page_token == ""
        return list(response.messages)

    return _get


@pytest.fixture
async def launch(send, mail_stub, alice, bob, carol):
    """m1 Alice -> Bob, cc Carol, bcc Dave; m2 Bob reply-all; m3 Carol -> Bob only;
    m4 Alice -> Erin in the same thread."""
    m1 = await send(
        alice, to=["Bob"], cc=["Carol"], bcc=["Dave"], subject="Launch plan", body=PLAN_BODY
    )
    m2 = (
        await mail_stub.ReplyMessage(
            mpb.ReplyMessageRequest(message_id=m1.id, body=REPLY_BODY, reply_all=True),
            metadata=bob.md,
        )
    ).message
    m3 = (
        await mail_stub.ReplyMessage(
            mpb.ReplyMessageRequest(message_id=m2.id, body="all good", to=[]), metadata=carol.md
        )
    ).message
    m4 = await send(
        alice,
        to=["Erin"],
        subject="Launch plan for Erin",
        body="2) [ ] numbered",
        thread_id=m1.thread_id,
    )
    assert list(m2.to) == ["Alice"] and list(m2.cc) == ["Carol"]
    assert list(m3.to) == ["Bob"]
    return m1, m2, m3, m4


async def test_participants_count_and_time_span_follow_what_each_reader_sees(
    launch, summarize, team
):
    m1, m2, m3, m4 = launch
    expected = {
        "Alice": (["Alice", "Bob", "Carol", "Dave", "Erin"], [m1, m2, m4]),
        "Bob": (["Alice", "Bob", "Carol"], [m1, m2, m3]),
        "Carol": (["Alice", "Bob", "Carol"], [m1, m2, m3]),
        "Dave": (["Alice", "Bob", "Carol", "Dave"], [m1]),
        "Erin": (["Alice", "Erin"], [m4]),
    }
    for name, (participants, visible) in expected.items():
        summary = await summarize(team[name], m1.thread_id)
        assert summary.thread_id == m1.thread_id
        assert list(summary.participants) == participants, name
        assert summary.message_count == len(visible), name
        assert summary.first_time == visible[0].create_time, name
        assert summary.last_time == visible[-1].create_time, name
        assert summary.subject == visible[0].subject, name


async def test_action_items_are_unchecked_boxes_and_marker_lines(launch, summarize, bob, erin):
    m1, m2, _, m4 = launch
    summary = await summarize(bob, m1.thread_id)
    items = [(i.message_id, i.author, i.kind, i.text) for i in summary.action_items]
    assert items == [
        (m1.id, "Alice", "checkbox", "write tests"),
        (m1.id, "Alice", "checkbox", "update docs"),
        (m1.id, "Alice", "checkbox", "ship it"),
        (m1.id, "Alice", "TODO", "TODO: rotate keys"),
        (m2.id, "Bob", "ACTION", "ACTION: Carol to review"),
        (m2.id, "Bob", "BLOCKED", "BLOCKED on infra"),
        (m2.id, "Bob", "checkbox", "plus box"),
    ]
    erin_items = (await summarize(erin, m1.thread_id)).action_items
    assert [(i.message_id, i.kind, i.text) for i in erin_items] == [(m4.id, "checkbox", "numbered")]


async def test_recent_messages_default_to_three_oldest_first_with_bodies_and_private_bcc(
    launch, summarize, alice, bob, dave
):
    m1, m2, m3, m4 = launch
    bob_recent = (await summarize(bob, m1.thread_id)).recent_messages
    assert [m.id for m in bob_recent] == [m1.id, m2.id, m3.id]
    assert [m.body for m in bob_recent] == [PLAN_BODY, REPLY_BODY, "all good"]
    assert [list(m.bcc) for m in bob_recent] == [[], [], []]
    dave_recent = (await summarize(dave, m1.thread_id)).recent_messages
    assert [(m.id, list(m.bcc)) for m in dave_recent] == [(m1.id, ["Dave"])]
    alice_recent = (await summarize(alice, m1.thread_id, recent_count=2)).recent_messages
    assert [(m.id, list(m.bcc)) for m in alice_recent] == [(m2.id, []), (m4.id, [])]
    alice_all = (await summarize(alice, m1.thread_id, recent_count=20)).recent_messages
    assert [(m.id, list(m.bcc)) for m in alice_all] == [
        (m1.id, ["Dave"]),
        (m2.id, []),
        (m4.id, []),
    ]


async def test_summary_agrees_with_get_thread(launch, summarize, get_thread, team):
    thread_id = launch[0].thread_id
    for name, agent in team.items():
        messages = await get_thread(agent, thread_id)
        summary = await summarize(agent, thread_id, recent_count=20)
        assert summary.message_count == len(messages), name
        assert list(summary.recent_messages) == messages, name
        ids = [m.id for m in messages]
        assert ids == sorted(ids), name


async def test_recent_count_is_capped_at_20(send, summarize, get_thread, alice, bob):
    first = await send(alice, to=["Bob"], subject="long thread", body="m0")
    for i in range(1, 25):
        await send(
            alice, to=["Bob"], subject="long thread", body=f"m{i}", thread_id=first.thread_id
        )
    messages = await get_thread(bob, first.thread_id)
    assert len(messages) == 25
    for requested, expected in ((0, 3), (1, 1), (3, 3), (19, 19), (20, 20), (21, 20), (1000, 20)):
        summary = await summarize(bob, first.thread_id, recent_count=requested)
        assert list(summary.recent_messages) == messages[-expected:], requested
        assert summary.message_count == 25


async def test_negative_recent_count_is_invalid(launch, summarize, expect_error, bob):
    await expect_error(
        summarize(bob, launch[0].thread_id, recent_count=-1),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="recent_count",
    )


async def test_unknown_or_invisible_threads_are_not_found(
    launch, send, summarize, expect_error, alice, erin
):
    hidden = await send(alice, to=["Bob"], subject="not for Erin")
    for thread_id in ("no-such-thread", hidden.thread_id, "999999"):
        await expect_error(
            summarize(erin, thread_id),
            grpc.StatusCode.NOT_FOUND,
            "THREAD_NOT_FOUND",
            metadata={"threadId": thread_id},
        )
    await expect_error(
        summarize(erin, ""), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", field="thread_id"
    )
    await expect_error(
        summarize(erin, "t" * 129),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="thread_id",
    )


async def test_named_threads_do_not_cross_projects(
    send, summarize, expect_error, make_project, register, alice, bob
):
    other = await make_project("/work/repos/other-project")
    zed = await register(other, "Zed")
    await register(other, "Yan")
    await send(alice, to=["Bob"], subject="ours", body="TODO: ours", thread_id="shared-name")
    await send(zed, to=["Yan"], subject="theirs", body="TODO: theirs", thread_id="shared-name")
    ours = await summarize(bob, "shared-name")
    theirs = await summarize(zed, "shared-name")
    assert (ours.subject, ours.message_count, list(ours.participants)) == (
        "ours",
        1,
        ["Alice", "Bob"],
    )
    assert (theirs.subject, theirs.message_count, list(theirs.participants)) == (
        "theirs",
        1,
        ["Zed", "Yan"],
    )
    assert [i.text for i in theirs.action_items] == ["TODO: theirs"]


async def test_concurrent_replies_are_all_counted(send, mail_stub, summarize, alice, bob):
    first = await send(alice, to=["Bob"], subject="busy", body="start")
    await asyncio.gather(
        *(
            mail_stub.ReplyMessage(
                mpb.ReplyMessageRequest(message_id=first.id, body=f"- [ ] item {i}"),
                metadata=bob.md,
            )
            for i in range(30)
        )
    )
    summary = await summarize(alice, first.thread_id)
    assert summary.message_count == 31
    assert sorted(i.text for i in summary.action_items) == sorted(f"item {i}" for i in range(30))
    assert len(summary.recent_messages) == 3
