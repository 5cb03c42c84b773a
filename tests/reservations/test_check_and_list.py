"""CheckConflicts (read-only, own and shared reservations ignored unless asked, bounded output) and
ListReservations (active or all, by agent or path, paged with sealed tokens)."""

from __future__ import annotations

import grpc
import pytest
from agentmail.v1 import reservation_service_pb2 as pb


async def check(res, caller, paths, **fields):
    return await res.CheckConflicts(
        pb.CheckConflictsRequest(paths=paths, **fields), metadata=caller.md
    )


async def test_check_reports_other_agents_conflicts_and_changes_nothing(
    res, reserve, alice, bob, listed
):
    await reserve(alice, ["src/**"])
    await reserve(bob, ["docs/a.md"])

    response = await check(res, bob, ["src/x.py", "docs/a.md", "lib/README.md"])

    assert [c.pattern for c in response.conflicts] == ["src/x.py"]
    assert response.conflicts[0].holders[0].agent == "Alice"
    assert not response.truncated
    assert len(await listed(bob)) == 2


async def test_check_ignores_shared_reservations_unless_asked(res, reserve, alice, bob, carol):
    await reserve(alice, ["docs/a.md"], shared=True)
    await reserve(carol, ["docs/b.md"])

    default = await check(res, bob, ["docs/a.md", "docs/b.md"])
    with_shared = await check(res, bob, ["docs/a.md", "docs/b.md"], include_shared=True)

    assert [c.pattern for c in default.conflicts] == ["docs/b.md"]
    assert [c.pattern for c in with_shared.conflicts] == ["docs/a.md", "docs/b.md"]


async def test_check_ignores_expired_reservations(res, reserve, alice, bob, clock):
    await reserve(alice, ["a.py"], ttl_seconds=60)
    clock.advance(seconds=60)

    assert not (await check(res, bob, ["a.py"])).conflicts


async def test_check_output_is_bounded_and_says_so(res, reserve, team):
    agents = list(team.values())
    for holder in agents[1:]:
        await reserve(holder, [f"dir{i}/**" for i in range(30)], shared=True)
    # Shared holds count only when asked for (what an exclusive reservation would meet).

    response = await check(
        res, agents[0], [f"dir{i}/f.py" for i in range(150)], include_shared=True
    )

    assert len(response.conflicts) == 30
    assert all(len(c.holders) == 4 for c in response.conflicts)
    assert not response.truncated
    many = await check(
        res, agents[0], [f"dir{i % 30}/f{i}.py" for i in range(150)], include_shared=True
    )
    assert len(many.conflicts) == 100 and many.truncated


@pytest.mark.parametrize(
    ("paths", "reason"),
    [([], "EMPTY_PATHS"), ([f"{i}.py" for i in range(501)], "TOO_MANY_PATHS")],
)
async def test_check_bad_input(res, alice, expect_error, paths, reason):
    await expect_error(check(res, alice, paths), grpc.StatusCode.INVALID_ARGUMENT, reason)


async def test_list_filters_by_agent_and_by_path(reserve, alice, bob, listed):
    await reserve(alice, ["src/**", "docs/a.md"])
    await reserve(bob, ["src/b.py"], mode=pb.RESERVE_MODE_ADVISORY)

    assert [r.pattern for r in await listed(alice, agent="bob")] == ["src/b.py"]
    assert [(r.agent, r.pattern) for r in await listed(alice, path="src/b.py")] == [
        ("Alice", "src/**"),
        ("Bob", "src/b.py"),
    ]
    assert [r.pattern for r in await listed(bob, path="./docs/a.md")] == ["docs/a.md"]


async def test_list_pages_with_tokens_and_includes_released_on_request(res, reserve, alice, listed):
    granted = (await reserve(alice, [f"f{i}.py" for i in range(7)])).granted
    await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(ids=[granted[0].id]), metadata=alice.md
    )

    first = await res.ListReservations(pb.ListReservationsRequest(page_size=3), metadata=alice.md)
    everything = await listed(alice, include_inactive=True, page_size=2)

    assert [r.pattern for r in first.reservations] == ["f1.py", "f2.py", "f3.py"]
    assert first.next_page_token
    active = [f"f{i}.py" for i in range(1, 7)]
    assert [r.pattern for r in await listed(alice, page_size=3)] == active
    assert [r.id for r in everything] == [g.id for g in granted]


async def test_a_path_filter_pages_past_many_non_matching_reservations(reserve, alice, listed):
    for start in range(0, 1200, 256):
        await reserve(alice, [f"x/{i}.py" for i in range(start, min(start + 256, 1200))])
    await reserve(alice, ["y/target.py"])

    assert [r.pattern for r in await listed(alice, path="y/target.py", page_size=5)] == [
        "y/target.py"
    ]


async def test_list_refuses_foreign_tokens_unknown_agents_and_bad_paths(
    res, reserve, alice, bob, expect_error
):
    await reserve(alice, ["a.py", "b.py"])
    page = await res.ListReservations(pb.ListReservationsRequest(page_size=1), metadata=alice.md)

    await expect_error(
        res.ListReservations(
            pb.ListReservationsRequest(page_size=1, page_token=page.next_page_token),
            metadata=bob.md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_PAGE_TOKEN",
    )
    await expect_error(
        res.ListReservations(pb.ListReservationsRequest(agent="Nobody"), metadata=alice.md),
        grpc.StatusCode.NOT_FOUND,
        "AGENT_NOT_FOUND",
    )
    await expect_error(
        res.ListReservations(pb.ListReservationsRequest(path="a\nb"), metadata=alice.md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "CONTROL_CHARACTER",
        field="path",
    )
    await expect_error(
        res.ListReservations(pb.ListReservationsRequest(page_size=-1), metadata=alice.md),
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        field="page_size",
    )


async def test_list_shows_only_the_callers_project(reserve, alice, make_project, register, listed):
    outsider = await register(await make_project("/work/repos/elsewhere"), "Zed")
    await reserve(outsider, ["z.py"])
    await reserve(alice, ["a.py"])

    assert [r.agent for r in await listed(alice)] == ["Alice"]
    assert [r.agent for r in await listed(outsider)] == ["Zed"]


async def test_check_sees_every_change_since_the_last_check(res, reserve, alice, bob, clock):
    # Checks keep a project's holds between calls: each change must still show at once.
    assert not (await check(res, bob, ["src/a.py"])).conflicts
    held = (await reserve(alice, ["src/**"], ttl_seconds=120)).granted[0]
    assert (await check(res, bob, ["src/a.py"])).conflicts

    await res.ReleaseReservations(pb.ReleaseReservationsRequest(ids=[held.id]), metadata=alice.md)
    assert not (await check(res, bob, ["src/a.py"])).conflicts

    await reserve(alice, ["src/**"], ttl_seconds=120)
    assert (await check(res, bob, ["src/a.py"])).conflicts
    clock.advance(seconds=120)  # expiry by time, nothing written
    assert not (await check(res, bob, ["src/a.py"])).conflicts


async def test_check_takes_real_paths_not_patterns(res, reserve, alice, bob):
    await reserve(alice, ["src/**", "README.md", "docs/[ab].md"])

    response = await check(
        res, bob, ["README", "docs/README.md", "src/deep/x.py", "docs/a.md", "docs/[ab].md"]
    )

    # A root file is not below src/ (as a pattern, "README" would match src/README);
    # an unanchored reservation covers the name at any depth; glob characters in a path are
    # characters: the file literally named "docs/[ab].md" is not one the set matches.
    assert [c.pattern for c in response.conflicts] == [
        "docs/README.md",
        "src/deep/x.py",
        "docs/a.md",
    ]
