"""Contact events on SubscribeInbox: a request reaches the target live as an ordinary message
followed by a REQUESTED event; an approval or a block reaches the requester; a subscriber that
reconnects after the request's cursor gets the answer and nothing twice."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import agent_service_pb2, events_pb2


async def request_contact(agent_stub: Any, sender: Any, to: str, reason: str = "") -> Any:
    return await agent_stub.RequestContact(
        agent_service_pb2.RequestContactRequest(to_agent=to, reason=reason), metadata=sender.md
    )


async def test_request_reaches_the_target_as_mail_then_event(
    agent_stub: Any, mail_stub: Any, team: dict[str, Any], subscribe: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, bob) as stream:
        await stream.until_live()
        answer = await request_contact(agent_stub, alice, bob.name, "review my schema")
        item = await stream.item()
        event = await stream.agent_event()
    assert answer.notified
    assert item.message.sender == alice.name
    assert item.message.ack_required
    assert "review my schema" in item.message.body
    assert event.WhichOneof("detail") == "contact"
    assert event.contact.kind == events_pb2.ContactEvent.KIND_REQUESTED
    assert (event.contact.from_agent, event.contact.to_agent) == (alice.name, bob.name)
    assert event.contact.reason == "review my schema"
    assert event.contact.expire_time == answer.contact.expire_time


async def test_a_repeated_request_tells_the_target_once(
    agent_stub: Any, mail_stub: Any, team: dict[str, Any], subscribe: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, bob) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    assert (await request_contact(agent_stub, alice, bob.name, "first")).notified
    repeat = await request_contact(agent_stub, alice, bob.name, "second")
    assert not repeat.notified and repeat.contact.reason == "second"
    async with subscribe(mail_stub, bob, cursor=start) as stream:
        backlog = await stream.until_live()
    assert len(backlog) == 1
    assert [e.contact.reason for e in stream.agent_events] == ["first"]


async def test_approval_and_block_reach_the_requester(
    agent_stub: Any, mail_stub: Any, team: dict[str, Any], subscribe: Any
) -> None:
    alice, bob, carol = team["Alice"], team["Bob"], team["Carol"]
    await request_contact(agent_stub, alice, bob.name)
    await request_contact(agent_stub, alice, carol.name)
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        approved = await agent_stub.RespondContact(
            agent_service_pb2.RespondContactRequest(from_agent=alice.name, approve=True),
            metadata=bob.md,
        )
        first = await stream.agent_event()
        await agent_stub.RespondContact(
            agent_service_pb2.RespondContactRequest(from_agent=alice.name, approve=False),
            metadata=carol.md,
        )
        second = await stream.agent_event()
    assert first.contact.kind == events_pb2.ContactEvent.KIND_APPROVED
    assert (first.contact.from_agent, first.contact.to_agent) == (alice.name, bob.name)
    assert first.contact.expire_time == approved.contact.expire_time
    assert second.contact.kind == events_pb2.ContactEvent.KIND_BLOCKED
    assert second.contact.to_agent == carol.name
    assert not second.contact.HasField("expire_time")


async def test_resuming_after_the_request_gets_the_answer_once(
    agent_stub: Any, mail_stub: Any, team: dict[str, Any], subscribe: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    await request_contact(agent_stub, alice, bob.name)
    await agent_stub.RespondContact(
        agent_service_pb2.RespondContactRequest(from_agent=alice.name, approve=True),
        metadata=bob.md,
    )
    async with subscribe(mail_stub, alice, cursor=start) as stream:
        await stream.until_live()
        events = list(stream.agent_events)
        resume = events[-1].cursor
    assert [e.contact.kind for e in events] == [events_pb2.ContactEvent.KIND_APPROVED]
    async with subscribe(mail_stub, alice, cursor=resume) as stream:
        assert await stream.until_live() == []
        assert stream.agent_events == []
