"""Reservation events on the holder's SubscribeInbox stream: CONFLICT when another agent's
ReservePaths hits its reservation, FORCE_RELEASED when it is force-released, EXPIRING once
when the sweep finds it about to expire; and in the backlog after a reconnect."""

from __future__ import annotations

from agentmail.v1 import events_pb2
from agentmail.v1 import reservation_service_pb2 as pb

from ._streams import subscribed

Kind = events_pb2.ReservationEvent


async def test_a_conflicting_request_tells_the_holder_live(mail_stub, reserve, alice, bob):
    held = (await reserve(alice, ["src/**"])).granted[0]
    async with subscribed(mail_stub, alice) as stream:
        await stream.until_live()

        await reserve(bob, ["src/a.py", "src/b.py"], reason="hotfix")
        event = await stream.reservation_event()

    assert (event.kind, event.reservation_id, event.pattern) == (
        Kind.KIND_CONFLICT,
        held.id,
        "src/**",
    )
    assert (event.other_agent, event.reason, event.exclusive) == ("Bob", "hotfix", True)
    assert event.expire_time == held.expire_time


async def test_conflicts_reach_the_holder_once_per_request_in_the_backlog(
    mail_stub, reserve, alice, bob
):
    async with subscribed(mail_stub, alice) as stream:
        await stream.until_live()
        start = stream.tail_cursor
    await reserve(alice, ["src/**"])
    await reserve(bob, ["src/a.py", "src/b.py"])  # two patterns hit one reservation: one event
    await reserve(bob, ["src/c.py"], idempotency_key="k")
    await reserve(bob, ["src/c.py"], idempotency_key="k")  # a repeat tells nobody again

    async with subscribed(mail_stub, alice, cursor=start) as stream:
        backlog = await stream.until_live()

    assert [e.reservation.kind for e in backlog] == [Kind.KIND_CONFLICT] * 2


async def test_force_release_tells_the_holder(mail_stub, res, reserve, alice, bob, clock):
    held = (await reserve(alice, ["a.py"], ttl_seconds=60)).granted[0]
    clock.advance(seconds=61)
    async with subscribed(mail_stub, alice) as stream:
        await stream.until_live()

        await res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, reason="needed"), metadata=bob.md
        )
        event = await stream.reservation_event()

    assert (event.kind, event.reservation_id, event.other_agent, event.reason) == (
        Kind.KIND_FORCE_RELEASED,
        held.id,
        "Bob",
        "needed",
    )


async def test_the_sweep_warns_once_before_expiry_and_again_after_a_renew(
    mail_stub, res, reserve, alice, clock, server
):
    held = (await reserve(alice, ["a.py"], ttl_seconds=600)).granted[0]
    async with subscribed(mail_stub, alice) as stream:
        await stream.until_live()
        clock.advance(seconds=299)
        assert (await server.reservation_sweeper.sweep_once())[1] == []

        clock.advance(seconds=1)
        _, warned = await server.reservation_sweeper.sweep_once()
        event = await stream.reservation_event()
        assert (await server.reservation_sweeper.sweep_once())[1] == []

        await res.RenewReservations(
            pb.RenewReservationsRequest(ids=[held.id], extend_seconds=60), metadata=alice.md
        )
        assert (await server.reservation_sweeper.sweep_once())[1] == []  # 360 s left
        clock.advance(seconds=60)
        again = (await server.reservation_sweeper.sweep_once())[1]

    assert len(warned) == 1 and len(again) == 1
    assert (event.kind, event.reservation_id) == (Kind.KIND_EXPIRING, held.id)
