"""ReservePaths: grants, conflicts and their holders, the three modes, extend-in-place,
idempotency, and every kind of bad input."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import reservation_service_pb2 as pb

from .conftest import START_MICROS

HOUR = 3600 * 1_000_000
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def test_a_free_path_is_granted_exclusive_for_an_hour_by_default(reserve, alice, team):
    response = await reserve(alice, ["src/app.py"], reason="refactor")

    assert not response.conflicts
    (granted,) = response.granted
    assert (granted.agent, granted.pattern, granted.exclusive, granted.active) == (
        "Alice",
        "src/app.py",
        True,
        True,
    )
    assert granted.reason == "refactor"
    assert granted.create_time.ToMicroseconds() == START_MICROS
    assert granted.expire_time.ToMicroseconds() == START_MICROS + HOUR
    assert not granted.HasField("release_time")


async def test_patterns_are_normalised_and_deduplicated(reserve, alice, team):
    response = await reserve(alice, ["./src/a.py", "src\\a.py", "/src/a.py", "docs/"])

    assert [g.pattern for g in response.granted] == ["src/a.py", "docs/"]


async def test_an_overlapping_exclusive_reservation_is_a_conflict_naming_its_holder(
    reserve, alice, bob
):
    held = (await reserve(alice, ["src/**"], reason="big refactor")).granted[0]

    response = await reserve(bob, ["src/app.py", "docs/README.md"])

    assert [g.pattern for g in response.granted] == ["docs/README.md"]
    (conflict,) = response.conflicts
    assert conflict.pattern == "src/app.py"
    (holder,) = conflict.holders
    assert (holder.reservation_id, holder.agent, holder.pattern, holder.exclusive) == (
        held.id,
        "Alice",
        "src/**",
        True,
    )
    assert holder.expire_time == held.expire_time


async def test_shared_reservations_do_not_conflict_with_each_other(reserve, alice, bob, carol):
    await reserve(alice, ["docs/guide.md"], shared=True)

    shared = await reserve(bob, ["docs/guide.md"], shared=True)
    exclusive = await reserve(carol, ["docs/guide.md"])

    assert [g.agent for g in shared.granted] == ["Bob"] and not shared.conflicts
    assert not exclusive.granted
    assert sorted(h.agent for h in exclusive.conflicts[0].holders) == ["Alice", "Bob"]


async def test_an_agent_never_conflicts_with_itself(reserve, alice, team):
    await reserve(alice, ["src/**"])

    response = await reserve(alice, ["src/app.py"])

    assert [g.pattern for g in response.granted] == ["src/app.py"]
    assert not response.conflicts


async def test_all_or_nothing_grants_nothing_when_anything_conflicts(reserve, alice, bob):
    await reserve(alice, ["src/a.py"])

    response = await reserve(bob, ["src/a.py", "src/b.py"], mode=pb.RESERVE_MODE_ALL_OR_NOTHING)

    assert not response.granted
    assert [c.pattern for c in response.conflicts] == ["src/a.py"]


async def test_all_or_nothing_grants_everything_without_a_conflict(reserve, alice, bob):
    await reserve(alice, ["src/a.py"])

    response = await reserve(bob, ["lib/b.py", "lib/c.py"], mode=pb.RESERVE_MODE_ALL_OR_NOTHING)

    assert [g.pattern for g in response.granted] == ["lib/b.py", "lib/c.py"]


async def test_advisory_grants_everything_and_reports_the_conflicts(reserve, alice, bob):
    await reserve(alice, ["src/a.py"])

    response = await reserve(bob, ["src/a.py", "src/b.py"], mode=pb.RESERVE_MODE_ADVISORY)

    assert [g.pattern for g in response.granted] == ["src/a.py", "src/b.py"]
    assert [c.pattern for c in response.conflicts] == ["src/a.py"]


async def test_resources_match_only_the_same_name_and_never_paths(reserve, alice, bob):
    await reserve(alice, ["tool://migrations"])

    other = await reserve(bob, ["tool://deploy", "migrations", "**"])
    same = await reserve(bob, ["tool://migrations"])

    assert not other.conflicts and len(other.granted) == 3
    assert not same.granted and same.conflicts[0].holders[0].agent == "Alice"


async def test_reserving_the_same_pattern_again_extends_it_in_place(reserve, alice, clock, team):
    first = (await reserve(alice, ["src/a.py"], ttl_seconds=600)).granted[0]
    clock.advance(seconds=60)

    longer = (await reserve(alice, ["src/a.py"], ttl_seconds=3600, shared=True)).granted[0]
    shorter = (await reserve(alice, ["src/a.py"], ttl_seconds=60)).granted[0]

    assert longer.id == first.id == shorter.id
    assert longer.expire_time.ToMicroseconds() == START_MICROS + 60_000_000 + HOUR
    assert longer.exclusive is False
    # The later expiry wins; exclusivity follows the newest request.
    assert shorter.expire_time == longer.expire_time
    assert shorter.exclusive is True


async def test_a_repeated_idempotency_key_returns_the_first_result(reserve, alice, bob, listed):
    await reserve(alice, ["src/a.py"])
    first = await reserve(bob, ["src/a.py", "src/b.py"], idempotency_key="k1")

    again = await reserve(bob, ["src/a.py", "src/b.py"], idempotency_key="k1")

    assert again.deduplicated and not first.deduplicated
    assert list(again.granted) == list(first.granted)
    assert list(again.conflicts) == list(first.conflicts)
    assert len(await listed(bob, agent="Bob")) == 1


async def test_an_idempotency_key_reused_for_another_request_fails(
    reserve, alice, expect_error, team
):
    await reserve(alice, ["src/a.py"], idempotency_key="k1")

    await expect_error(
        reserve(alice, ["src/b.py"], idempotency_key="k1"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "IDEMPOTENCY_KEY_REUSED",
    )


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"paths": []}, "paths", "EMPTY_PATHS"),
        ({"paths": [f"f{i}.py" for i in range(257)]}, "paths", "TOO_MANY_PATHS"),
        ({"paths": ["ok.py", ""]}, "paths[1]", "EMPTY_PATTERN"),
        ({"paths": ["x" * 513]}, "paths[0]", "PATTERN_TOO_LONG"),
        ({"paths": ["a\nb"]}, "paths[0]", "CONTROL_CHARACTER"),
        ({"paths": ["src/../etc"]}, "paths[0]", "PARENT_REFERENCE"),
        ({"paths": ["!src/a.py"]}, "paths[0]", "NEGATED_PATTERN"),
        ({"paths": ["src/[a.py"]}, "paths[0]", "MALFORMED_PATTERN"),
        ({"paths": ["a.py"], "ttl_seconds": 59}, "ttl_seconds", "INVALID_DURATION"),
        ({"paths": ["a.py"], "ttl_seconds": -1}, "ttl_seconds", "INVALID_DURATION"),
        (
            {"paths": ["a.py"], "ttl_seconds": 30 * 86400 + 1},
            "ttl_seconds",
            "INVALID_DURATION",
        ),
        ({"paths": ["a.py"], "reason": "r" * 513}, "reason", "INVALID_ARGUMENT"),
        ({"paths": ["a.py"], "mode": 9}, "mode", "UNKNOWN_ENUM_VALUE"),
        ({"paths": ["a.py"], "idempotency_key": "k" * 129}, "idempotency_key", "INVALID_ARGUMENT"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(
    res, alice, expect_error, fields, field, reason
):
    await expect_error(
        res.ReservePaths(pb.ReservePathsRequest(**fields), metadata=alice.md),
        INVALID,
        reason,
        field=field,
    )


async def test_ttl_bounds_are_inclusive(reserve, alice, team):
    low = await reserve(alice, ["a.py"], ttl_seconds=60)
    high = await reserve(alice, ["b.py"], ttl_seconds=30 * 86400)

    assert low.granted[0].expire_time.ToMicroseconds() == START_MICROS + 60_000_000
    assert high.granted[0].expire_time.ToMicroseconds() == START_MICROS + 30 * 86400 * 10**6


async def test_reserving_needs_a_token(res, expect_error, team):
    await expect_error(
        res.ReservePaths(pb.ReservePathsRequest(paths=["a.py"])),
        grpc.StatusCode.UNAUTHENTICATED,
        "TOKEN_MISSING",
    )


async def test_reservations_of_another_project_never_conflict(
    reserve, alice, make_project, register
):
    other = await register(await make_project("/work/repos/other"), "Zed")
    await reserve(alice, ["src/a.py"])

    response = await reserve(other, ["src/a.py"])

    assert [g.agent for g in response.granted] == ["Zed"] and not response.conflicts


@pytest.mark.parametrize(
    ("held", "requested"),
    [
        ("*.py", "src/a.py"),  # a glob without a folder matches at any depth
        ("src/a.py", "*.py"),
        ("**/tests/", "src/tests/x.py"),
        ("src/a.py", "**/a.py"),
        ("s*/a.py", "src/a.py"),  # a first folder that is a glob
        ("tool://db", "tool://db"),
    ],
)
async def test_patterns_of_any_first_folder_are_checked_against_each_other(
    reserve, alice, bob, held, requested
):
    # ReservePaths reads only the requested patterns' first folders and the patterns without
    # a literal one: every overlapping pair must still be found.
    await reserve(alice, ["lib/other.py", held, "docs/x.md"])

    response = await reserve(bob, [requested])

    assert not response.granted
    assert held in [h.pattern for h in response.conflicts[0].holders]


async def test_different_first_folders_never_conflict(reserve, alice, bob):
    await reserve(alice, ["src/**", "tool://db"])

    response = await reserve(bob, ["lib/**", "docs/src/a.py", "tool://dbx"])

    assert len(response.granted) == 3 and not response.conflicts
