"""Scenario 7: file reservations, ReservePaths and CheckConflicts with N active reservations.

A fresh database is seeded with ``reservation_active`` active reservations (1,000) spread over
ten holder agents: a mix of files, folders and globs under four top-level folders (``src/``,
``lib/``, ``tests/``, ``docs/``). No unanchored glob (``*.lock``): matching at any depth, and a
path pattern covering whatever is below it, such a glob overlaps every pattern, so one of them
would turn every request here into a conflict. A server is started on it
(archive off, as in scenarios 2 and 3) and each call is made sequentially by an agent that
holds nothing:

- ReservePaths of one file nobody holds again and again: the first call grants it, every
  later one extends it in place; each is a full conflict check against every active
  reservation (one seek, then the overlap tests) and a write through the single writer.
- ReservePaths of one file another agent holds: refused, the conflict returned with its holder
  and the holder told (a CONFLICT notice is written).
- CheckConflicts of 1 and of 10 paths (a pre-commit guard's question): read-only.

The ceiling is the empty unary RPC on the same server, also sequential.
"""

from __future__ import annotations

from agentmail.v1 import reservation_service_pb2 as pb

from bench.core import Run, closed_loop, log
from bench.scenarios import ceiling
from bench.seed import Seeder
from bench.server import running_server

SCENARIO = "7"
TITLE = "reservations"
RESERVE = "/agentmail.v1.ReservationService/ReservePaths"
CHECK = "/agentmail.v1.ReservationService/CheckConflicts"
HOLDERS = 10
TOP = ("src", "lib", "tests", "docs")


def pattern(i: int) -> str:
    """The ``i``-th seeded pattern: files mostly, some folders and folder globs."""
    top = TOP[i % len(TOP)]
    kind = i % 20
    if kind == 0:
        return f"{top}/pkg{i}/"
    if kind == 1:
        return f"{top}/pkg{i}/**/*.py"
    return f"{top}/pkg{i // 10}/mod{i}.py"


def _reserve(paths: list[str]) -> bytes:
    return pb.ReservePathsRequest(paths=paths, ttl_seconds=3600).SerializeToString()


def _check(paths: list[str]) -> bytes:
    return pb.CheckConflictsRequest(paths=paths).SerializeToString()


def run_scenario(run: Run) -> None:
    """Seed the reservations, start a server and measure each call sequentially."""
    active = run.scale.reservation_active
    data = run.data_dir("reservations")
    with Seeder(data) as seeder:
        names = [f"Holder{h}" for h in range(HOLDERS)]
        project = seeder.project("/bench/reservations", [*names, "Caller"])
        holders = [project.agent(name) for name in names]
        seeder.reservations(project, [(holders[i % HOLDERS], pattern(i)) for i in range(active)])
    log(f"scenario 7: seeded {active:,} active reservations")
    caller = project.agent("Caller")
    held = pattern(3)  # a file one holder has
    free = [f"{TOP[i % len(TOP)]}/free{i}/new{i}.py" for i in range(10)]
    calls = run.scale.reservation_calls
    phases = (
        (
            "reserve_extend",
            "ReservePaths of 1 free file (extended in place)",
            RESERVE,
            _reserve(free[:1]),
        ),
        (
            "reserve_conflict",
            "ReservePaths of 1 held file (refused, holder told)",
            RESERVE,
            _reserve([held]),
        ),
        ("check1", "CheckConflicts of 1 path", CHECK, _check([held])),
        ("check10", "CheckConflicts of 10 paths (1 held)", CHECK, _check([held, *free[1:]])),
    )
    with running_server(data, cpus=run.server_cpus, archive=False) as server:
        run.settled("reservations", server)
        prefix = f"s7.{active}"
        ceiling.unary(run, server, f"{prefix}.ceiling", 1, SCENARIO, f" ({active:,} active)")
        for key, label, method, request in phases:
            closed_loop(
                run,
                server,
                key=f"{prefix}.{key}",
                scenario=SCENARIO,
                name=f"{label}, {active:,} active reservations",
                method=method,
                requests=(request,),
                tokens=(caller.token,),
                concurrency=1,
                count=calls,
                ceiling=f"{prefix}.ceiling.unary.c1",
                active_reservations=active,
            )
