"""A reservation's life on an injected clock: expiry by time (not by the sweep), renew,
release, force-release of a stale one (refused while its holder is active), and the sweep
that records what expired."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import reservation_service_pb2 as pb

from .conftest import START_MICROS

SECOND = 1_000_000
HOUR = 3600 * SECOND


async def test_an_expired_reservation_stops_conflicting_before_any_sweep(
    reserve, alice, bob, clock, server
):
    await reserve(alice, ["src/a.py"], ttl_seconds=60)
    clock.advance(seconds=59)
    assert (await reserve(bob, ["src/a.py"])).conflicts

    clock.advance(seconds=1)

    response = await reserve(bob, ["src/a.py"])
    assert [g.agent for g in response.granted] == ["Bob"] and not response.conflicts
    assert server.reservation_sweeper.expired == 0


async def test_an_expired_reservation_is_listed_inactive_and_the_sweep_records_it(
    reserve, alice, clock, server, listed
):
    held = (await reserve(alice, ["src/a.py"], ttl_seconds=60)).granted[0]
    clock.advance(seconds=61)

    assert await listed(alice) == []
    (before,) = await listed(alice, include_inactive=True)
    assert not before.active and not before.HasField("release_time")

    expired, _ = await server.reservation_sweeper.sweep_once()

    assert [r.id for r in expired] == [held.id]
    (after,) = await listed(alice, include_inactive=True)
    assert after.release_time == held.expire_time
    assert (after.release_reason, after.released_by) == ("expired", "")


async def test_renew_by_id_extends_from_the_later_of_now_and_the_old_expiry(
    res, reserve, alice, clock, team
):
    held = (await reserve(alice, ["src/a.py"], ttl_seconds=600)).granted[0]
    clock.advance(seconds=100)

    (renewed,) = (
        await res.RenewReservations(
            pb.RenewReservationsRequest(ids=[held.id], extend_seconds=120), metadata=alice.md
        )
    ).renewed

    assert renewed.expire_time.ToMicroseconds() == START_MICROS + 720 * SECOND


async def test_renew_by_pattern_defaults_to_thirty_minutes_and_skips_unheld_patterns(
    res, reserve, alice, team
):
    await reserve(alice, ["src/a.py", "src/b.py"], ttl_seconds=600)

    response = await res.RenewReservations(
        pb.RenewReservationsRequest(patterns=["./src/a.py", "nothing.py"]), metadata=alice.md
    )

    assert [r.pattern for r in response.renewed] == ["src/a.py"]
    assert response.renewed[0].expire_time.ToMicroseconds() == START_MICROS + 2400 * SECOND


async def test_renew_refuses_an_expired_reservation(res, reserve, alice, clock, expect_error, team):
    held = (await reserve(alice, ["src/a.py"], ttl_seconds=60)).granted[0]
    clock.advance(seconds=60)

    await expect_error(
        res.RenewReservations(pb.RenewReservationsRequest(ids=[held.id]), metadata=alice.md),
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_NOT_ACTIVE",
    )


async def test_release_by_ids_patterns_or_all_sets_the_release_time(
    res, reserve, alice, bob, clock, listed
):
    granted = (await reserve(alice, ["a.py", "b.py", "c.py", "d.py"])).granted
    clock.advance(seconds=5)

    by_id = await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(ids=[granted[0].id]), metadata=alice.md
    )
    by_pattern = await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(patterns=["b.py"]), metadata=alice.md
    )
    everything = await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(all=True), metadata=alice.md
    )
    again = await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(ids=[granted[0].id]), metadata=alice.md
    )

    assert [r.pattern for r in by_id.released] == ["a.py"]
    assert [r.pattern for r in by_pattern.released] == ["b.py"]
    assert [r.pattern for r in everything.released] == ["c.py", "d.py"]
    assert not again.released
    released = by_id.released[0]
    assert released.release_time.ToMicroseconds() == START_MICROS + 5 * SECOND
    assert (released.released_by, released.active) == ("Alice", False)
    assert await listed(alice) == []
    assert [g.agent for g in (await reserve(bob, ["a.py"])).granted] == ["Bob"]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, "EMPTY_SELECTION"),
        ({"ids": [1], "all": True}, "AMBIGUOUS_SELECTION"),
        ({"ids": [1], "patterns": ["a.py"]}, "AMBIGUOUS_SELECTION"),
        ({"ids": [0]}, "INVALID_ARGUMENT"),
        ({"patterns": ["a\tb"]}, "CONTROL_CHARACTER"),
    ],
)
async def test_release_needs_exactly_one_valid_selection(res, alice, expect_error, fields, reason):
    await expect_error(
        res.ReleaseReservations(pb.ReleaseReservationsRequest(**fields), metadata=alice.md),
        grpc.StatusCode.INVALID_ARGUMENT,
        reason,
    )


async def test_renew_needs_exactly_one_selection_and_a_valid_extension(
    res, alice, expect_error, team
):
    await expect_error(
        res.RenewReservations(pb.RenewReservationsRequest(), metadata=alice.md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "EMPTY_SELECTION",
    )
    await expect_error(
        res.RenewReservations(
            pb.RenewReservationsRequest(ids=[1], extend_seconds=10), metadata=alice.md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_DURATION",
        field="extend_seconds",
    )


@pytest.mark.parametrize("method", ["RenewReservations", "ReleaseReservations"])
async def test_unknown_foreign_and_other_project_ids_are_refused(
    res, reserve, alice, bob, make_project, register, expect_error, method
):
    request = getattr(pb, f"{method}Request")
    mine = (await reserve(alice, ["a.py"])).granted[0]
    outsider = await register(await make_project("/work/repos/elsewhere"), "Zed")
    theirs = (await reserve(outsider, ["z.py"])).granted[0]

    await expect_error(
        getattr(res, method)(request(ids=[mine.id + 1000]), metadata=alice.md),
        grpc.StatusCode.NOT_FOUND,
        "RESERVATION_NOT_FOUND",
    )
    await expect_error(
        getattr(res, method)(request(ids=[mine.id]), metadata=bob.md),
        grpc.StatusCode.PERMISSION_DENIED,
        "NOT_RESERVATION_HOLDER",
        metadata={"reservationIds": str(mine.id)},
    )
    await expect_error(
        getattr(res, method)(request(ids=[theirs.id]), metadata=alice.md),
        grpc.StatusCode.NOT_FOUND,
        "RESERVATION_NOT_FOUND",
    )


async def test_force_release_is_refused_while_the_holder_is_active(
    res, reserve, alice, bob, clock, expect_error
):
    held = (await reserve(alice, ["src/**"], ttl_seconds=7200)).granted[0]
    clock.advance(seconds=1799)

    failure = await expect_error(
        res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, reason="need it"), metadata=bob.md
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_ACTIVE",
        metadata={"holder": "Alice", "staleAfterSeconds": "1800"},
    )
    assert failure.metadata["idleSeconds"] == "1799"


async def test_force_release_of_an_idle_holder_records_the_reason_and_mails_the_holder(
    res, reserve, alice, bob, carol, clock, inbox
):
    held = (await reserve(alice, ["src/**"], ttl_seconds=7200)).granted[0]
    clock.advance(seconds=1800)

    response = await res.ForceReleaseReservation(
        pb.ForceReleaseReservationRequest(id=held.id, reason="Alice went quiet"),
        metadata=bob.md,
    )

    released = response.reservation
    assert (released.active, released.released_by) == (False, "Bob")
    assert released.release_reason == "Alice went quiet"
    (notice,) = await inbox(alice)
    assert notice.id == response.notice_message_id
    assert (notice.sender, notice.subject) == ("Bob", "Reservation released: src/**")
    assert "Alice went quiet" in notice.body and "inactive for 1800 s" in notice.body
    assert [g.agent for g in (await reserve(carol, ["src/x.py"])).granted] == ["Carol"]


async def test_force_release_of_an_expired_reservation_is_allowed_at_once(
    res, reserve, alice, bob, clock
):
    held = (await reserve(alice, ["a.py"], ttl_seconds=60)).granted[0]
    clock.advance(seconds=60)

    response = await res.ForceReleaseReservation(
        pb.ForceReleaseReservationRequest(id=held.id), metadata=bob.md
    )
    again = await res.ForceReleaseReservation(
        pb.ForceReleaseReservationRequest(id=held.id), metadata=bob.md
    )

    assert response.reservation.release_reason == "expired"
    assert response.notice_message_id > 0
    assert again.notice_message_id == 0 and again.reservation == response.reservation


async def test_a_holder_that_sends_mail_is_active(res, reserve, alice, bob, clock, mail_stub):
    from agentmail.v1 import mail_service_pb2  # noqa: PLC0415

    held = (await reserve(alice, ["a.py"], ttl_seconds=7200)).granted[0]
    clock.advance(seconds=1700)
    await mail_stub.SendMessage(
        mail_service_pb2.SendMessageRequest(to=["Bob"], subject="still here"), metadata=alice.md
    )
    clock.advance(seconds=200)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id), metadata=bob.md
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_force_release_of_unknown_or_other_project_ids_is_not_found(
    res, reserve, alice, make_project, register, expect_error
):
    outsider = await register(await make_project("/work/repos/elsewhere"), "Zed")
    theirs = (await reserve(outsider, ["z.py"])).granted[0]

    for reservation_id in (theirs.id, theirs.id + 1000):
        await expect_error(
            res.ForceReleaseReservation(
                pb.ForceReleaseReservationRequest(id=reservation_id), metadata=alice.md
            ),
            grpc.StatusCode.NOT_FOUND,
            "RESERVATION_NOT_FOUND",
        )
    await expect_error(
        res.ForceReleaseReservation(pb.ForceReleaseReservationRequest(id=0), metadata=alice.md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="id",
    )


async def test_retiring_releases_the_agents_reservations(reserve, alice, bob, agent_stub, listed):
    from agentmail.v1 import agent_service_pb2  # noqa: PLC0415

    held = (await reserve(alice, ["src/**"])).granted[0]

    await agent_stub.RetireAgent(agent_service_pb2.RetireAgentRequest(), metadata=alice.md)

    assert [g.agent for g in (await reserve(bob, ["src/a.py"])).granted] == ["Bob"]
    (released,) = [r for r in await listed(bob, include_inactive=True) if r.id == held.id]
    assert (released.active, released.release_reason, released.released_by) == (
        False,
        "retired",
        "",
    )


async def test_a_holder_that_makes_calls_is_active(res, reserve, alice, bob, clock, server):
    held = (await reserve(alice, ["a/x.py"], ttl_seconds=7200)).granted[0]
    clock.advance(seconds=1700)
    # Any authenticated call counts (the presence map, flushed in the background).
    await res.ListReservations(pb.ListReservationsRequest(), metadata=alice.md)
    await server.services.presence.flush()
    clock.advance(seconds=200)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id), metadata=bob.md
        )
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
