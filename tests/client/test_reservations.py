"""The typed client's reservation calls against a real server on port 0: typed results, the
three modes, renew and release, force-release refused with its reason, paging, and the typed
errors bad input raises."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import AsyncIterator
from typing import Any

import agentmail_client as am
import pytest
from conftest import OPERATOR_TOKEN


@dataclasses.dataclass(frozen=True)
class Team:
    alice: am.AgentmailClient
    bob: am.AgentmailClient


@pytest.fixture
async def client(server: Any) -> AsyncIterator[am.AgentmailClient]:
    async with am.AgentmailClient(server.address) as opened:
        yield opened


@pytest.fixture
async def team(client: am.AgentmailClient) -> Team:
    project = (await client.ensure_project("/srv/repos/reservations")).project
    members = []
    for name in ("Alice", "Bob"):
        member = client.with_token(None)
        await member.register_agent(project.slug, name)
        members.append(member)
    return Team(*members)


async def test_reserve_returns_typed_reservations_and_conflicts(team: Team) -> None:
    result = await team.alice.reserve_paths(["src/**"], reason="refactor", ttl_seconds=600)

    (held,) = result.granted
    assert isinstance(held, am.Reservation)
    assert (held.agent, held.pattern, held.exclusive, held.active) == (
        "Alice",
        "src/**",
        True,
        True,
    )
    assert held.expire_time is not None and held.create_time is not None
    assert held.expire_time - held.create_time == datetime.timedelta(seconds=600)
    assert held.release_time is None and not result.deduplicated

    refused = await team.bob.reserve_paths("src/app.py")

    assert refused.granted == ()
    (conflict,) = refused.conflicts
    assert conflict == am.Conflict(
        "src/app.py",
        (am.ReservationHolder(held.id, "Alice", "src/**", True, held.expire_time),),
    )


@pytest.mark.parametrize(
    ("mode", "granted"),
    [
        (am.ReserveMode.DEFAULT, ["lib/b.py"]),
        (am.ReserveMode.ALL_OR_NOTHING, []),
        (am.ReserveMode.ADVISORY, ["lib/a.py", "lib/b.py"]),
    ],
)
async def test_modes(team: Team, mode: am.ReserveMode, granted: list[str]) -> None:
    await team.alice.reserve_paths("lib/a.py")

    result = await team.bob.reserve_paths(["lib/a.py", "lib/b.py"], mode=mode)

    assert [r.pattern for r in result.granted] == granted
    assert [c.pattern for c in result.conflicts] == ["lib/a.py"]


async def test_check_renew_release_and_list(team: Team) -> None:
    first, second = (await team.alice.reserve_paths(["a/x.py", "a/y.py"], shared=True)).granted

    checked = await team.bob.check_conflicts(["a/x.py", "b/z.py"], include_shared=True)
    default = await team.bob.check_conflicts(["a/x.py"])
    (renewed,) = await team.alice.renew_reservations(ids=first.id, extend_seconds=120)
    (released,) = await team.alice.release_reservations(patterns="a/y.py")
    page = await team.alice.list_reservations(page_size=1)
    everything = await team.alice.list_reservations(include_inactive=True, agent="alice")

    assert [c.pattern for c in checked.conflicts] == ["a/x.py"] and not checked.truncated
    assert default.conflicts == (), "shared reservations are ignored unless asked for"
    assert renewed.expire_time is not None and first.expire_time is not None
    assert renewed.expire_time - first.expire_time == datetime.timedelta(seconds=120)
    assert (released.id, released.active, released.released_by) == (second.id, False, "Alice")
    assert [r.id for r in page] == [first.id] and page.next_page_token == ""
    assert [r.id for r in everything] == [first.id, second.id]


async def test_release_all_then_nothing_is_left(team: Team) -> None:
    await team.alice.reserve_paths(["a/1.py", "a/2.py"])

    released = await team.alice.release_reservations(all=True)

    assert len(released) == 2
    assert len(await team.alice.list_reservations()) == 0


async def test_force_release_of_an_active_holder_raises_failed_precondition(team: Team) -> None:
    held = (await team.alice.reserve_paths("a.py/x")).granted[0]

    with pytest.raises(am.FailedPrecondition) as caught:
        await team.bob.force_release_reservation(held.id, reason="mine now")

    assert caught.value.reason == "RESERVATION_ACTIVE"
    assert caught.value.metadata["holder"] == "Alice"


async def test_an_operator_force_releases_an_active_reservation_naming_its_project(
    client: am.AgentmailClient, team: Team
) -> None:
    held = (await team.alice.reserve_paths("a.py/x")).granted[0]
    operator = client.with_token(OPERATOR_TOKEN)

    with pytest.raises(am.InvalidArgument) as unnamed:
        await operator.force_release_reservation(held.id)
    result = await operator.force_release_reservation(
        held.id, reason="stuck agent", project=held.project
    )

    assert unnamed.value.field_violations[0].field == "project"
    assert isinstance(result, am.ForceReleaseResult)
    assert (result.reservation.active, result.notice_message_id) == (False, 0)
    assert (result.reservation.released_by, result.reservation.release_reason) == (
        "operator:token",
        "stuck agent",
    )
    assert len(await team.bob.list_reservations()) == 0


async def test_errors_are_typed_with_their_reasons(team: Team) -> None:
    held = (await team.alice.reserve_paths("a/x.py")).granted[0]

    with pytest.raises(am.InvalidArgument) as empty:
        await team.alice.reserve_paths([])
    with pytest.raises(am.InvalidArgument) as short:
        await team.alice.reserve_paths("a/y.py", ttl_seconds=10)
    with pytest.raises(am.PermissionDenied) as foreign:
        await team.bob.release_reservations(ids=held.id)
    with pytest.raises(am.NotFound) as unknown:
        await team.alice.renew_reservations(ids=held.id + 100)
    with pytest.raises(am.InvalidArgument) as nothing:
        await team.alice.release_reservations()

    assert empty.value.reason == "EMPTY_PATHS"
    assert (short.value.reason, short.value.field_violations[0].field) == (
        "INVALID_DURATION",
        "ttl_seconds",
    )
    assert foreign.value.reason == "NOT_RESERVATION_HOLDER"
    assert unknown.value.reason == "RESERVATION_NOT_FOUND"
    assert nothing.value.reason == "EMPTY_SELECTION"


async def test_an_idempotent_reserve_returns_the_first_result(team: Team) -> None:
    first = await team.alice.reserve_paths("k/a.py", idempotency_key="once")
    again = await team.alice.reserve_paths("k/a.py", idempotency_key="once")

    assert again.deduplicated and again.granted == first.granted
