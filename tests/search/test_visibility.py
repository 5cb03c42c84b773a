"""Visibility: a search finds only mail the caller sent or received, shows bcc only as
everywhere else, and never crosses projects."""

from __future__ import annotations

from agentmail.v1 import mail_service_pb2 as mpb
from agentmail.v1 import search_service_pb2 as spb
from agentmail.v1.types_pb2 import MESSAGE_VIEW_ENVELOPE, MESSAGE_VIEW_FULL


async def test_another_agents_mail_never_appears(send, search_ids, team):
    alice, bob, carol, dave, erin = (team[n] for n in ("Alice", "Bob", "Carol", "Dave", "Erin"))
    a_to_b = (await send(alice, to=["Bob"], subject="zebra", body="zebra")).id
    c_to_d = (await send(carol, to=["Dave"], subject="zebra", body="zebra")).id
    b_to_c = (await send(bob, to=["Carol"], cc=["Dave"], subject="zebra", body="zebra")).id
    expected = {
        alice: {a_to_b},
        bob: {a_to_b, b_to_c},
        carol: {c_to_d, b_to_c},
        dave: {c_to_d, b_to_c},
        erin: set(),
    }
    for agent, ids in expected.items():
        for order in (spb.SEARCH_ORDER_RELEVANCE, spb.SEARCH_ORDER_NEWEST):
            assert await search_ids(agent, "zebra", order=order) == ids, agent.name
            assert await search_ids(agent, "zeb*", order=order) == ids, agent.name
            assert await search_ids(agent, "zebra OR xyz", order=order) == ids, agent.name
        # Filters can narrow the caller's mail, never widen it.
        assert await search_ids(agent, "zebra", sender="Alice") == ids & {a_to_b}, agent.name
        assert await search_ids(agent, "zebra", recipient="Dave") == ids & {c_to_d, b_to_c}
        assert await search_ids(agent, "zebra", thread_id=str(c_to_d)) == ids & {c_to_d}


async def test_bcc_stays_private_in_hits(send, search, alice, bob, carol, dave):
    sent = await send(alice, to=["Bob"], bcc=["Carol", "Dave"], subject="quiet", body="quiet")
    assert list(sent.bcc) == ["Carol", "Dave"]
    expected = {alice: ["Carol", "Dave"], bob: [], carol: ["Carol"], dave: ["Dave"]}
    for agent, bcc in expected.items():
        [hit] = (await search(agent, "quiet")).hits
        assert hit.message.id == sent.id
        assert list(hit.message.bcc) == bcc, agent.name
        assert list(hit.message.to) == ["Bob"]


async def test_hits_match_get_message_for_the_same_reader(
    send, search, mail_stub, alice, bob, carol
):
    sent = await send(
        alice, to=["Bob"], cc=["Dave"], bcc=["Carol"], subject="same view", body="body text"
    )
    for agent in (alice, bob, carol):
        [hit] = (await search(agent, "same", view=MESSAGE_VIEW_FULL)).hits
        got = await mail_stub.GetMessage(
            mpb.GetMessageRequest(message_id=sent.id), metadata=agent.md
        )
        assert hit.message == got.message, agent.name


async def test_bodies_are_included_unless_left_out(send, search, alice, bob):
    await send(alice, to=["Bob"], subject="sized", body="twelve bytes")
    [plain] = (await search(bob, "sized", view=MESSAGE_VIEW_ENVELOPE)).hits
    assert plain.message.body == ""
    assert plain.message.body_size_bytes == 12
    [full] = (await search(bob, "sized")).hits
    assert full.message.body == "twelve bytes"
    # A body-only match still produces a snippet without the body.
    [body_hit] = (await search(bob, "twelve", view=MESSAGE_VIEW_ENVELOPE)).hits
    assert "[twelve]" in body_hit.snippet
    assert body_hit.message.body == ""


async def test_agents_of_other_projects_never_see_each_others_mail(
    send, search_ids, search, make_project, register, alice, bob
):
    other = await make_project("/work/repos/other-project")
    other_alice = await register(other, "Alice")
    other_bob = await register(other, "Bob")
    here = (await send(alice, to=["Bob"], subject="shared words", body="POL-358")).id
    there = (await send(other_alice, to=["Bob"], subject="shared words", body="POL-358")).id
    assert here != there
    for query in ("shared", "POL-358", "shared OR words", "sha*"):
        assert await search_ids(alice, query) == {here}
        assert await search_ids(bob, query) == {here}
        assert await search_ids(other_alice, query) == {there}
        assert await search_ids(other_bob, query) == {there}
    # Names resolve inside the caller's project.
    assert await search_ids(other_bob, "shared", sender="Alice") == {there}
    assert await search_ids(bob, "shared", sender="Alice") == {here}
    [hit] = (await search(other_bob, "shared")).hits
    assert hit.message.project == other
