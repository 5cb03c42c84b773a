"""Runs the selected scenarios in order and writes the results."""

from __future__ import annotations

import argparse
import datetime
import functools
import os
import pathlib
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from bench import env, report
from bench.core import Run, Skipped, closed_loop, log
from bench.loadgen import CEILING_UNARY
from bench.scale import PRESETS
from bench.scenarios import (
    BY_ID,
    SCENARIOS,
    archive,
    bulk,
    ceiling,
    inbox,
    mcp_import,
    mcp_wait,
    mixed,
    reservations,
    scaleout,
    search,
    send,
    subscribe,
    tls,
    uvloop_cmp,
)
from bench.seed import Seeder
from bench.server import running_server

RESULTS = pathlib.Path(__file__).resolve().parent / "results"

# Scenarios on the shared server: (seed before start, run on the server).
MAIN: dict[str, tuple[Callable[[Seeder, Run], Any], Callable[..., None]]] = {
    "1": (send.seed, send.run_scenario),
    "4": (subscribe.seed, subscribe.run_scenario),
    "6": (mixed.seed, mixed.run_scenario),
}
STANDALONE: dict[str, Callable[[Run], None]] = {
    "2": inbox.run_scenario,
    "3": search.run_scenario,
    "5": archive.run_scenario,
    "7": reservations.run_scenario,
    "8": tls.run_scenario,
    "9": mcp_wait.run_scenario,
    "uvloop": uvloop_cmp.run_scenario,
    "import": mcp_import.run_scenario,
    "bulk": bulk.run_scenario,
    "scaleout": scaleout.run_scenario,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line of ``python -m bench``."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark agentmail against ceilings measured on the same server.",
    )
    parser.add_argument(
        "--quick", action="store_true", help="small counts: about a minute (default: full)"
    )
    parser.add_argument("--scale", choices=sorted(PRESETS), help="a preset by name (tiny: tests)")
    parser.add_argument(
        "--scenarios",
        default=",".join(s.id for s in SCENARIOS),
        help="comma-separated scenario ids to run (default: all)",
    )
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS, help="results folder")
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to CPU 0 and load generators to the others (default: unpinned)",
    )
    parser.add_argument("--scratch", type=pathlib.Path, help="where data folders go (tmp)")
    parser.add_argument("--keep-data", action="store_true", help="keep the data folders")
    return parser.parse_args(argv)


def _placement(pin: bool) -> tuple[tuple[int, ...], tuple[int, ...], str]:
    cpus = sorted(os.sched_getaffinity(0))
    if pin and len(cpus) >= 2:
        server, clients = (cpus[0],), tuple(cpus[1:])
        text = f"pinned: server on CPU {server[0]}, load generators on CPUs {list(clients)}"
        return server, clients, text
    text = (
        f"unpinned: the server process and each load-generator process float over CPUs {cpus} "
        "(one server process; one load generator per phase, plus subscriber processes in "
        "scenarios 4 and 6)"
    )
    return (), (), text


def _main_session(run: Run, ids: list[str]) -> None:
    data = run.data_dir("main")
    log("seeding the main server's data folder")
    with Seeder(data) as seeder:
        fixtures = {sid: MAIN[sid][0](seeder, run) for sid in ids}
    with running_server(data, cpus=run.server_cpus) as server:
        log(
            f"main server pid {server.pid} on {server.address}, idle after {server.settled_after} s"
        )
        run.settled("main", server)
        ceiling.measure_all(run, server)
        for sid in ids:
            _guarded(run, sid, functools.partial(MAIN[sid][1], run, server, fixtures[sid]))
        log("re-measuring the ceiling at the end (drift)")
        for concurrency in (1, 64):
            closed_loop(
                run,
                server,
                key=f"ceiling_end.unary.c{concurrency}",
                scenario="ceiling",
                name=f"empty unary RPC, {concurrency} in flight, at the end of the session",
                method=CEILING_UNARY,
                requests=(b"",),
                concurrency=concurrency,
                count=run.scale.calls(run.scale.ceiling_calls, concurrency),
                ceiling=f"ceiling.unary.c{concurrency}",
            )


def _guarded(run: Run, sid: str, body: Callable[[], None]) -> None:
    """Run one scenario; a failure is recorded and the run goes on."""
    scenario = BY_ID[sid]
    log(f"scenario {sid}: {scenario.title}")
    started = time.monotonic()
    try:
        body()
    except Exception:
        text = traceback.format_exc()
        print(text, file=sys.stderr)
        run.skipped.append(Skipped(sid, scenario.title, "FAILED: " + text.strip().splitlines()[-1]))
    log(f"scenario {sid} took {time.monotonic() - started:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench; returns the exit code (1 when a scenario failed)."""
    args = parse_args(argv)
    scale = PRESETS[args.scale or ("quick" if args.quick else "full")]
    wanted = [part.strip() for part in args.scenarios.split(",") if part.strip()]
    unknown = [sid for sid in wanted if sid not in BY_ID]
    if unknown:
        print(f"unknown scenario ids: {unknown}; known: {list(BY_ID)}", file=sys.stderr)
        return 2
    scratch = args.scratch or pathlib.Path(tempfile.mkdtemp(prefix="agentmail-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    server_cpus, client_cpus, placement = _placement(args.pin)
    environment = env.collect(scratch, scale.name, placement)
    run = Run(scale, scratch, server_cpus, client_cpus)
    log(f"{scale.name} run, data in {scratch}; {placement}")
    try:
        for scenario in SCENARIOS:
            if scenario.kind == "skipped" and scenario.id in wanted:
                run.skipped.append(Skipped(scenario.id, scenario.title, scenario.skip_reason))
        main_ids = [s.id for s in SCENARIOS if s.kind == "main" and s.id in wanted]
        if main_ids:
            _guarded_session(run, main_ids)
        for scenario in SCENARIOS:
            if scenario.kind == "standalone" and scenario.id in wanted:
                _guarded(run, scenario.id, functools.partial(STANDALONE[scenario.id], run))
    finally:
        run.pool.close()
        if not args.keep_data:
            shutil.rmtree(scratch, ignore_errors=True)
    environment.update(run.notes)
    environment["load_average_end"] = env.load_average()
    environment["duration_seconds"] = round(time.monotonic() - run.started, 1)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    folder = args.out / f"{stamp}-{scale.name}"
    report.write(folder, run, environment, plots=not args.no_plots)
    latest = args.out / "latest"
    if latest.exists():
        shutil.rmtree(latest)
    shutil.copytree(folder, latest)
    log(f"results in {folder} (copied to {latest})")
    failed = [s for s in run.skipped if s.reason.startswith("FAILED")]
    return 1 if failed else 0


def _guarded_session(run: Run, ids: list[str]) -> None:
    try:
        _main_session(run, ids)
    except Exception:
        text = traceback.format_exc()
        print(text, file=sys.stderr)
        last = text.strip().splitlines()[-1]
        run.skipped.append(Skipped("main", "main server session", "FAILED: " + last))
