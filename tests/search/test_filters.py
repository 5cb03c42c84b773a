"""Structured filters alongside the text: scope, sender, recipient (bcc private), thread,
topic, importance and time range; unknown or malformed agent names are rejected."""

from __future__ import annotations

import grpc
from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail.v1 import types_pb2
from google.protobuf import timestamp_pb2


async def test_scope_selects_sent_received_or_both(send, search_ids, alice, bob, carol):
    mine = (await send(alice, to=["Bob"], subject="alpha from alice")).id
    theirs = (await send(bob, to=["Alice"], subject="alpha from bob")).id
    cc_to_me = (await send(carol, to=["Bob"], cc=["Alice"], subject="alpha cc")).id
    to_self = (await send(alice, to=["Alice"], subject="alpha note to self")).id
    assert await search_ids(alice, "alpha") == {mine, theirs, cc_to_me, to_self}
    assert await search_ids(alice, "alpha", scope=spb.SEARCH_SCOPE_ALL) == {
        mine,
        theirs,
        cc_to_me,
        to_self,
    }
    assert await search_ids(alice, "alpha", scope=spb.SEARCH_SCOPE_SENT) == {mine, to_self}
    assert await search_ids(alice, "alpha", scope=spb.SEARCH_SCOPE_RECEIVED) == {
        theirs,
        cc_to_me,
        to_self,
    }


async def test_sender_filter_is_case_insensitive(send, search_ids, alice, bob, carol):
    from_bob = (await send(bob, to=["Alice"], subject="alpha")).id
    from_carol = (await send(carol, to=["Alice"], subject="alpha")).id
    await send(alice, to=["Bob"], subject="alpha")
    assert await search_ids(alice, "alpha", sender="Bob") == {from_bob}
    assert await search_ids(alice, "alpha", sender="bOB") == {from_bob}
    assert await search_ids(alice, "alpha", sender="carol") == {from_carol}
    assert await search_ids(alice, "alpha", sender="Dave") == set()
    # Combined with scope: Alice sent nothing Bob sent.
    assert await search_ids(alice, "alpha", sender="Bob", scope=spb.SEARCH_SCOPE_SENT) == set()


async def test_recipient_filter_counts_to_and_cc(send, search_ids, alice, bob, carol):
    to_bob = (await send(alice, to=["Bob"], subject="alpha")).id
    cc_bob = (await send(alice, to=["Carol"], cc=["Bob"], subject="alpha")).id
    to_carol = (await send(alice, to=["Carol"], subject="alpha")).id
    assert await search_ids(alice, "alpha", recipient="bob") == {to_bob, cc_bob}
    assert await search_ids(alice, "alpha", recipient="Carol") == {cc_bob, to_carol}
    # Carol received cc_bob and can see that Bob was on it.
    assert await search_ids(carol, "alpha", recipient="Bob") == {cc_bob}


async def test_recipient_filter_never_reveals_a_bcc_recipient_to_others(
    send, search, search_ids, alice, bob, carol, dave, erin
):
    blind = (await send(alice, to=["Bob"], cc=["Erin"], bcc=["Carol", "Dave"], subject="alpha")).id
    # The sender and each bcc recipient itself may match on the bcc recipient...
    assert await search_ids(alice, "alpha", recipient="Carol") == {blind}
    assert await search_ids(alice, "alpha", recipient="Dave") == {blind}
    assert await search_ids(carol, "alpha", recipient="Carol") == {blind}
    assert await search_ids(dave, "alpha", recipient="Dave") == {blind}
    # ...nobody else can, not even another bcc recipient of the same message.
    for viewer in (bob, erin, dave):
        assert await search_ids(viewer, "alpha", recipient="Carol") == set(), viewer.name
    for viewer in (bob, erin, carol):
        assert await search_ids(viewer, "alpha", recipient="Dave") == set(), viewer.name
    # Visible recipients still match for everyone who sees the message.
    for viewer in (alice, bob, carol, dave, erin):
        assert await search_ids(viewer, "alpha", recipient="Erin") == {blind}, viewer.name
    # And the hit itself shows bcc only as everywhere else.
    [hit] = (await search(bob, "alpha", recipient="Bob")).hits
    assert list(hit.message.bcc) == []
    [hit] = (await search(dave, "alpha", recipient="Erin")).hits
    assert list(hit.message.bcc) == ["Dave"]


async def test_thread_filter(send, mail_stub, search_ids, alice, bob):
    first = await send(alice, to=["Bob"], subject="alpha start")
    reply = await mail_stub.ReplyMessage(
        mpb.ReplyMessageRequest(message_id=first.id, body="alpha reply"), metadata=bob.md
    )
    named = await send(alice, to=["Bob"], subject="alpha named", thread_id="POL-358")
    other = await send(alice, to=["Bob"], subject="alpha elsewhere")
    assert await search_ids(bob, "alpha", thread_id=first.thread_id) == {first.id, reply.message.id}
    assert await search_ids(bob, "alpha", thread_id="POL-358") == {named.id}
    assert await search_ids(bob, "alpha", thread_id=other.thread_id) == {other.id}
    assert await search_ids(bob, "alpha", thread_id="no-such-thread") == set()


async def test_topic_filter_is_exact(send, search_ids, alice, bob):
    deploys = (await send(alice, to=["Bob"], subject="alpha", topic="deploys")).id
    await send(alice, to=["Bob"], subject="alpha", topic="deploys-old")
    await send(alice, to=["Bob"], subject="alpha")
    assert await search_ids(bob, "alpha", topic="deploys") == {deploys}
    assert await search_ids(bob, "alpha", topic="Deploys") == set()


async def test_min_importance_keeps_that_level_and_above(send, search_ids, alice, bob):
    by_level = {
        level: (await send(alice, to=["Bob"], subject="alpha", importance=level)).id
        for level in (
            types_pb2.IMPORTANCE_LOW,
            types_pb2.IMPORTANCE_NORMAL,
            types_pb2.IMPORTANCE_HIGH,
            types_pb2.IMPORTANCE_URGENT,
        )
    }
    unspecified = (await send(alice, to=["Bob"], subject="alpha")).id  # stored as NORMAL
    every = {*by_level.values(), unspecified}
    assert await search_ids(bob, "alpha") == every
    assert await search_ids(bob, "alpha", min_importance=types_pb2.IMPORTANCE_LOW) == every
    assert await search_ids(bob, "alpha", min_importance=types_pb2.IMPORTANCE_NORMAL) == (
        every - {by_level[types_pb2.IMPORTANCE_LOW]}
    )
    assert await search_ids(bob, "alpha", min_importance=types_pb2.IMPORTANCE_HIGH) == {
        by_level[types_pb2.IMPORTANCE_HIGH],
        by_level[types_pb2.IMPORTANCE_URGENT],
    }
    assert await search_ids(bob, "alpha", min_importance=types_pb2.IMPORTANCE_URGENT) == {
        by_level[types_pb2.IMPORTANCE_URGENT]
    }


def stamp(micros: int) -> timestamp_pb2.Timestamp:
    result = timestamp_pb2.Timestamp()
    result.FromMicroseconds(micros)
    return result


async def test_time_range_includes_start_and_excludes_end(send, search_ids, alice, bob):
    sent = [await send(alice, to=["Bob"], subject=f"alpha {i}") for i in range(3)]
    times = [m.create_time.ToMicroseconds() for m in sent]
    assert times == sorted(set(times)), "precondition: distinct creation times"
    first, second, third = (m.id for m in sent)
    assert await search_ids(bob, "alpha", start_time=sent[1].create_time) == {second, third}
    assert await search_ids(bob, "alpha", end_time=sent[1].create_time) == {first}
    assert await search_ids(
        bob, "alpha", start_time=sent[1].create_time, end_time=sent[2].create_time
    ) == {second}
    assert await search_ids(bob, "alpha", start_time=stamp(times[2] + 1)) == set()
    assert await search_ids(bob, "alpha", end_time=stamp(times[2] + 1)) == {first, second, third}
    assert (
        await search_ids(bob, "alpha", start_time=sent[2].create_time, end_time=sent[0].create_time)
        == set()
    )


async def test_filters_combine(send, search_ids, alice, bob, carol):
    target = await send(
        alice,
        to=["Bob"],
        cc=["Carol"],
        subject="alpha",
        topic="ops",
        importance=types_pb2.IMPORTANCE_HIGH,
        thread_id="t-ops",
    )
    await send(alice, to=["Bob"], subject="alpha", topic="ops", thread_id="t-ops")
    await send(carol, to=["Bob"], subject="alpha", topic="ops", thread_id="t-ops")
    await send(alice, to=["Bob"], subject="beta", topic="ops", thread_id="t-ops")
    found = await search_ids(
        bob,
        "alpha",
        sender="Alice",
        recipient="Carol",
        topic="ops",
        thread_id="t-ops",
        min_importance=types_pb2.IMPORTANCE_HIGH,
        scope=spb.SEARCH_SCOPE_RECEIVED,
        start_time=target.create_time,
    )
    assert found == {target.id}


async def test_unknown_sender_or_recipient_is_agent_not_found(
    send, search, expect_error, alice, bob
):
    await send(alice, to=["Bob"], subject="alpha")
    await expect_error(
        search(bob, "alpha", sender="Zed"),
        grpc.StatusCode.NOT_FOUND,
        "AGENT_NOT_FOUND",
        metadata={"name": "Zed", "field": "sender"},
    )
    await expect_error(
        search(bob, "alpha", recipient="Zed"),
        grpc.StatusCode.NOT_FOUND,
        "AGENT_NOT_FOUND",
        metadata={"name": "Zed", "field": "recipient"},
    )


async def test_agents_of_other_projects_are_unknown_names(
    send, search, expect_error, make_project, register, alice, bob
):
    other = await make_project("/work/repos/other-project")
    await register(other, "Zed")
    await expect_error(
        search(bob, "alpha", sender="Zed"), grpc.StatusCode.NOT_FOUND, "AGENT_NOT_FOUND"
    )


async def test_malformed_agent_names_are_invalid_argument(search, expect_error, bob):
    for bad in ("not a name", "x" * 300, "Bob,Carol", "../etc"):
        await expect_error(
            search(bob, "alpha", sender=bad),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_AGENT_NAME",
            field="sender",
        )
        await expect_error(
            search(bob, "alpha", recipient=bad),
            grpc.StatusCode.INVALID_ARGUMENT,
            "INVALID_AGENT_NAME",
            field="recipient",
        )
