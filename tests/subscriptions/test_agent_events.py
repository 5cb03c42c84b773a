"""Coordination events on SubscribeInbox: acknowledgements reach the sender's stream live and
in the backlog, interleaved with mail in commit order under one cursor; `mail_only` leaves them
out; repeats and self-acknowledgements leave no event; resuming after an event's cursor neither
repeats nor skips anything, across a catch-up longer than one storage page."""

from __future__ import annotations

from typing import Any

from agentmail.v1 import events_pb2, mail_service_pb2
from agentmail_server.domain.notices import ContactNoticeKind, ReservationNoticeKind
from agentmail_server.services.subscriptions import CATCH_UP_PAGE


async def ack(mail_stub: Any, agent: Any, *ids: int) -> None:
    await mail_stub.AcknowledgeMessage(
        mail_service_pb2.AcknowledgeMessageRequest(message_ids=list(ids)), metadata=agent.md
    )


async def test_acknowledgement_reaches_the_sender_live(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    message = await send(mail_stub, alice, to=[bob.name], subject="please ack", ack_required=True)
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        await ack(mail_stub, bob, message.id)
        event = await stream.agent_event()
    assert event.WhichOneof("detail") == "acknowledgement"
    assert event.acknowledgement.message_id == message.id
    assert event.acknowledgement.subject == "please ack"
    assert event.acknowledgement.acknowledged_by == bob.name
    assert event.acknowledgement.HasField("ack_time")
    assert event.create_time == event.acknowledgement.ack_time
    assert event.cursor


async def test_mail_only_leaves_events_out(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    first = await send(mail_stub, alice, to=[bob.name], ack_required=True)
    await ack(mail_stub, bob, first.id)
    async with subscribe(mail_stub, alice, cursor=start, mail_only=True) as stream:
        assert await stream.until_live() == []
        assert stream.agent_events == [], "the backlog's event was left out"
        await ack(mail_stub, bob, (await send(mail_stub, alice, to=[bob.name])).id)
        mail = await send(mail_stub, bob, to=[alice.name], subject="live mail")
        item = await stream.item()
        assert item.message.id == mail.id, "the live ack event was left out, the mail arrives"
        assert stream.agent_events == []


async def test_backlog_interleaves_mail_and_events_in_commit_order(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    asked = await send(mail_stub, alice, to=[bob.name], ack_required=True)
    mail_before = await send(mail_stub, bob, to=[alice.name], subject="before")
    await ack(mail_stub, bob, asked.id)
    mail_after = await send(mail_stub, bob, to=[alice.name], subject="after")
    async with subscribe(mail_stub, alice, cursor=start) as stream:
        order: list[str] = []
        cursors: list[str] = []
        while len(order) < 3:
            event = await stream.event()
            kind = event.WhichOneof("event")
            if kind == "item":
                order.append(event.item.message.subject)
                cursors.append(event.item.cursor)
            elif kind == "agent_event":
                order.append("ack")
                cursors.append(event.agent_event.cursor)
    assert order == ["before", "ack", "after"]
    assert mail_before.id < mail_after.id
    # Resuming after the event's cursor yields exactly what came after it.
    async with subscribe(mail_stub, alice, cursor=cursors[1]) as stream:
        assert [i.message.id for i in await stream.until_live()] == [mail_after.id]
        assert stream.agent_events == []


async def test_repeat_and_self_acknowledgements_leave_no_event(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    to_bob = await send(mail_stub, alice, to=[bob.name], ack_required=True)
    to_self = await send(mail_stub, alice, to=[alice.name, bob.name], ack_required=True)
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        await ack(mail_stub, bob, to_bob.id, to_bob.id)
        first = await stream.agent_event()
        await ack(mail_stub, bob, to_bob.id)  # a repeat: first wins, no second event
        await ack(mail_stub, alice, to_self.id)  # acknowledging one's own message
        await mail_stub.MarkRead(
            mail_service_pb2.MarkReadRequest(message_ids=[to_self.id]), metadata=bob.md
        )  # reading is not acknowledging
        marker = await send(mail_stub, bob, to=[alice.name], subject="marker")
        item = await stream.item()
    assert first.acknowledgement.message_id == to_bob.id
    assert item.message.id == marker.id
    assert stream.agent_events == [first], "nothing but the first ack became an event"


async def test_long_backlog_of_mail_and_events_resumes_without_gaps_or_repeats(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    # Bob sends Alice mail while acknowledging hers, so positions interleave in runs longer
    # than one catch-up page of either kind.
    asked = [
        (await send(mail_stub, alice, to=[bob.name], ack_required=True)).id
        for _ in range(CATCH_UP_PAGE + 20)
    ]
    received: list[int] = []
    for chunk in range(0, len(asked), 60):
        await ack(mail_stub, bob, *asked[chunk : chunk + 60])
        received.append((await send(mail_stub, bob, to=[alice.name])).id)
    received += [(await send(mail_stub, bob, to=[alice.name])).id for _ in range(CATCH_UP_PAGE)]

    async def replay(cursor: str, stop_after: int | None = None) -> list[tuple[str, int]]:
        seen: list[tuple[str, int]] = []
        async with subscribe(mail_stub, alice, cursor=cursor) as stream:
            while True:
                event = await stream.event()
                kind = event.WhichOneof("event")
                if kind == "heartbeat":
                    return seen
                if kind == "item":
                    seen.append(("mail", event.item.message.id))
                else:
                    seen.append(("ack", event.agent_event.acknowledgement.message_id))
                if stop_after is not None and len(seen) == stop_after:
                    seen.append(("cursor", 0))
                    resume.append(stream.last_cursor)
                    return seen

    resume: list[str] = []
    whole = await replay(start)
    assert sorted(i for k, i in whole if k == "ack") == asked
    assert [i for k, i in whole if k == "mail"] == received
    # Stop in the middle of the merged backlog, resume from the last cursor read.
    head = await replay(start, stop_after=CATCH_UP_PAGE + 7)
    tail = await replay(resume[0])
    assert head[:-1] + tail == whole


async def test_heartbeat_tail_covers_events_and_a_cursor_there_is_not_ahead(
    mail_stub: Any, team: dict[str, Any], subscribe: Any, send: Any
) -> None:
    alice, bob = team["Alice"], team["Bob"]
    async with subscribe(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    message = await send(mail_stub, alice, to=[bob.name], ack_required=True)
    await ack(mail_stub, bob, message.id)
    # Alice's inbox holds no mail at all: only the event. Its cursor must be accepted.
    async with subscribe(mail_stub, alice, cursor=start) as stream:
        await stream.until_live()
        assert [e.acknowledgement.message_id for e in stream.agent_events] == [message.id]
        event_cursor = stream.last_cursor
        tail = stream.tail_cursor
    assert tail == event_cursor, "the tail is the event's position"
    async with subscribe(mail_stub, alice, cursor=tail) as stream:
        assert await stream.until_live() == []
        assert stream.agent_events == []


def test_event_kinds_match_the_domain_values() -> None:
    contact = events_pb2.ContactEvent.Kind
    reservation = events_pb2.ReservationEvent.Kind
    assert {k.name: k.value for k in ContactNoticeKind} == {
        n.removeprefix("KIND_"): v for n, v in contact.items() if v
    }
    assert {k.name: k.value for k in ReservationNoticeKind} == {
        n.removeprefix("KIND_"): v for n, v in reservation.items() if v
    }
