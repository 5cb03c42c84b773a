"""uvloop on vs off: the same server started twice, once per event loop, back to back.

Each server gets a fresh data folder seeded alike, and the same phases: the empty unary RPC and
the one-recipient send, sequential and 64 in flight, and the ceiling stream. The load
generators always run on uvloop; only the server's loop changes.
"""

from __future__ import annotations

from bench.core import Run, closed_loop
from bench.loadgen import SEND
from bench.scale import Scale
from bench.scenarios import ceiling, send
from bench.seed import Seeder
from bench.server import running_server

SCENARIO = "uvloop"
TITLE = "uvloop on vs off"
LEVELS = (1, 64)


def run_scenario(run: Run) -> None:
    """Measure both loops; keys ``uvloop.on.*`` and ``uvloop.off.*``."""
    full_scale = run.scale
    run.scale = scale = full_scale.shrunk(full_scale.uvloop_share)
    try:
        _both(run, scale)
    finally:
        run.scale = full_scale


def _both(run: Run, scale: Scale) -> None:
    for uvloop in (True, False):
        label = "on" if uvloop else "off"
        data = run.data_dir(f"uvloop-{label}")
        with Seeder(data) as seeder:
            team = seeder.project("/bench/uvloop", [f"S{i}" for i in range(64)] + ["R0"])
        senders = [agent.token for agent in team.agents if agent.name.startswith("S")]
        prefix = f"uvloop.{label}"
        with running_server(data, uvloop=uvloop, cpus=run.server_cpus) as server:
            run.settled(f"uvloop-{label}", server)
            ceiling.measure_all(
                run,
                server,
                f"{prefix}.ceiling",
                LEVELS,
                health_levels=(),
                scenario=SCENARIO,
                where=f" (uvloop {label})",
            )
            for concurrency in LEVELS:
                closed_loop(
                    run,
                    server,
                    key=f"{prefix}.send.c{concurrency}",
                    scenario=SCENARIO,
                    name=f"uvloop {label}: send, 1 recipient, {concurrency} in flight",
                    method=SEND,
                    requests=(send.send_request(["R0"]),),
                    tokens=senders[:concurrency],
                    concurrency=concurrency,
                    count=scale.calls(scale.send_calls, concurrency),
                    ceiling=f"{prefix}.ceiling.unary.c{concurrency}",
                )
