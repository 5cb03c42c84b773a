"""Reservations in the git archive: one ``reservations/<id>.json`` per reservation, rewritten
as it changes, written by the background worker (never on the request path), resumed after
a restart and reproduced by a rebuild."""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from agentmail.v1 import reservation_service_pb2 as pb
from agentmail.v1 import reservation_service_pb2_grpc
from agentmail_server.archive import ArchiveDatabase, rebuild
from conftest import OPERATOR_MD


@pytest.fixture
async def res(team: Any, connect: Any) -> AsyncIterator[Any]:
    """ReservationService on the team's server."""
    async with connect(team.server.address) as channel:
        yield reservation_service_pb2_grpc.ReservationServiceStub(channel)


async def reserve(res: Any, team: Any, name: str, paths: list[str], **fields: Any) -> Any:
    return await res.ReservePaths(
        pb.ReservePathsRequest(paths=paths, **fields), metadata=team.members[name].md
    )


async def archived_reservations(team: Any, wait_for_stats: Any, revision: int) -> None:
    await wait_for_stats(team.server, lambda s: s.archived_reservation_revision >= revision)


async def test_a_reservation_is_archived_and_rewritten_when_released(
    team: Any, res: Any, open_archive: Any, wait_for_stats: Any
) -> None:
    await team.settle()  # the registrations have their own commit
    held = (await reserve(res, team, "Alice", ["src/**"], reason="refactor", shared=True)).granted[
        0
    ]
    await archived_reservations(team, wait_for_stats, 1)
    archive = open_archive(team.server.config.archive_path)
    path = f"projects/{team.slug}/reservations/{held.id}.json"

    document = json.loads(archive.read(path))
    assert {k: document[k] for k in ("id", "agent", "pattern", "exclusive", "reason")} == {
        "id": held.id,
        "agent": "Alice",
        "pattern": "src/**",
        "exclusive": False,
        "reason": "refactor",
    }
    assert document["released"] is None and document["expires"].endswith("Z")
    assert archive.head.message.startswith(f"Alice reserved src/** (shared) in {team.slug}")
    assert "Agentmail-Reservation-Revision: 1\n" in archive.head.message

    await res.ReleaseReservations(
        pb.ReleaseReservationsRequest(all=True), metadata=team.members["Alice"].md
    )
    await archived_reservations(team, wait_for_stats, 2)
    released = json.loads(open_archive(team.server.config.archive_path).read(path))
    assert released["released"] is not None and released["released_by"] == "Alice"


async def test_an_operators_force_release_is_archived(
    team: Any, res: Any, open_archive: Any, wait_for_stats: Any
) -> None:
    await team.settle()
    held = (await reserve(res, team, "Alice", ["src/**"])).granted[0]
    await archived_reservations(team, wait_for_stats, 1)

    await res.ForceReleaseReservation(
        pb.ForceReleaseReservationRequest(id=held.id, reason="stuck", project=team.slug),
        metadata=OPERATOR_MD,
    )
    await archived_reservations(team, wait_for_stats, 2)

    archive = open_archive(team.server.config.archive_path)
    document = json.loads(archive.read(f"projects/{team.slug}/reservations/{held.id}.json"))
    assert document["released"] is not None and document["released_by"] == "operator:token"
    assert archive.head.message.startswith(
        "operator:token force-released src/** (exclusive) of Alice"
    )


async def test_every_reservation_has_one_file(
    team: Any, res: Any, open_archive: Any, wait_for_stats: Any
) -> None:
    granted = (await reserve(res, team, "Bob", [f"lib/{i}.py" for i in range(5)])).granted
    await reserve(res, team, "Carol", ["lib/0.py"])  # refused: nothing new to archive
    await archived_reservations(team, wait_for_stats, 5)

    files = open_archive(team.server.config.archive_path).files()
    prefix = f"projects/{team.slug}/reservations/"
    assert sorted(p for p in files if p.startswith(prefix)) == sorted(
        f"{prefix}{g.id}.json" for g in granted
    )


async def test_a_rebuild_reproduces_the_reservation_files(
    team: Any, res: Any, open_archive: Any, wait_for_stats: Any, tmp_path: pathlib.Path
) -> None:
    await reserve(res, team, "Alice", ["a/x.py", "a/y.py"])
    await archived_reservations(team, wait_for_stats, 2)
    before = open_archive(team.server.config.archive_path).files()

    copy = tmp_path / "rebuilt.git"
    report = rebuild(ArchiveDatabase(team.server.config.database_path), copy)

    after = open_archive(copy).files()
    reservations = {p: b for p, b in before.items() if "/reservations/" in p}
    assert len(reservations) == 2
    assert {p: after.get(p) for p in reservations} == reservations
    assert report.position.reservation_revision == 2
