"""An operator force-releases any reservation of any project, stale or not: it names the
project, is recorded as ``operator:<how it authenticated>``, sends no mail (it is no agent)
and the holder learns of it from its FORCE_RELEASED event."""

from __future__ import annotations

import grpc
from agentmail.v1 import events_pb2
from agentmail.v1 import reservation_service_pb2 as pb

from ._streams import subscribed

Kind = events_pb2.ReservationEvent


async def test_an_operator_releases_an_active_reservation_and_the_holder_gets_the_event(
    res, reserve, mail_stub, alice, bob, project, operator_md, inbox
):
    held = (await reserve(alice, ["src/**"], ttl_seconds=7200)).granted[0]
    async with subscribed(mail_stub, alice) as stream:
        await stream.until_live()

        response = await res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, reason="deploy freeze", project=project),
            metadata=operator_md,
        )
        event = await stream.reservation_event()

    released = response.reservation
    assert (released.id, released.project, released.active) == (held.id, project, False)
    assert (released.released_by, released.release_reason) == ("operator:token", "deploy freeze")
    assert response.notice_message_id == 0
    assert (event.kind, event.reservation_id, event.pattern) == (
        Kind.KIND_FORCE_RELEASED,
        held.id,
        "src/**",
    )
    assert (event.other_agent, event.reason) == ("operator:token", "deploy freeze")
    assert await inbox(alice) == []
    assert [g.agent for g in (await reserve(bob, ["src/a.py"])).granted] == ["Bob"]


async def test_an_operator_release_without_a_reason_says_an_operator_did_it_and_repeats_safely(
    res, reserve, alice, project, operator_md
):
    held = (await reserve(alice, ["a.py"])).granted[0]
    request = pb.ForceReleaseReservationRequest(id=held.id, project=project)

    first = await res.ForceReleaseReservation(request, metadata=operator_md)
    again = await res.ForceReleaseReservation(request, metadata=operator_md)

    assert first.reservation.release_reason == "released by an operator"
    assert again.reservation == first.reservation and again.notice_message_id == 0


async def test_an_operator_reaches_every_project(res, reserve, make_project, register, operator_md):
    elsewhere = await make_project("/work/repos/elsewhere")
    zed = await register(elsewhere, "Zed")
    held = (await reserve(zed, ["z.py"])).granted[0]

    response = await res.ForceReleaseReservation(
        pb.ForceReleaseReservationRequest(id=held.id, project=elsewhere), metadata=operator_md
    )

    assert (response.reservation.project, response.reservation.active) == (elsewhere, False)


async def test_an_operator_must_name_the_right_project(
    res, reserve, alice, project, make_project, operator_md, expect_error, listed
):
    held = (await reserve(alice, ["a.py"])).granted[0]
    elsewhere = await make_project("/work/repos/elsewhere")

    await expect_error(
        res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id), metadata=operator_md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="project",
    )
    await expect_error(
        res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, project="no-such-project"),
            metadata=operator_md,
        ),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
        metadata={"project": "no-such-project"},
    )
    await expect_error(
        res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, project=elsewhere),
            metadata=operator_md,
        ),
        grpc.StatusCode.NOT_FOUND,
        "RESERVATION_NOT_FOUND",
        metadata={"reservationIds": str(held.id)},
    )
    (still,) = await listed(alice)
    assert still.id == held.id and still.active


async def test_an_agent_naming_another_project_is_told_it_does_not_exist(
    res, reserve, alice, bob, clock, make_project, expect_error
):
    held = (await reserve(alice, ["a.py"], ttl_seconds=60)).granted[0]
    clock.advance(seconds=61)
    elsewhere = await make_project("/work/repos/elsewhere")

    await expect_error(
        res.ForceReleaseReservation(
            pb.ForceReleaseReservationRequest(id=held.id, project=elsewhere), metadata=bob.md
        ),
        grpc.StatusCode.NOT_FOUND,
        "PROJECT_NOT_FOUND",
    )


async def test_an_agent_naming_its_own_project_keeps_the_staleness_rule(
    res, reserve, alice, bob, project, clock, expect_error
):
    held = (await reserve(alice, ["a.py"], ttl_seconds=7200)).granted[0]
    request = pb.ForceReleaseReservationRequest(id=held.id, project=project)
    await expect_error(
        res.ForceReleaseReservation(request, metadata=bob.md),
        grpc.StatusCode.FAILED_PRECONDITION,
        "RESERVATION_ACTIVE",
    )
    clock.advance(seconds=1800)

    response = await res.ForceReleaseReservation(request, metadata=bob.md)

    assert response.reservation.released_by == "Bob" and response.notice_message_id > 0
