"""Scenario 6: a mixed agent workload.

``mixed_agents`` simulated agents in one project, each a closed loop without think time:
40 % sends (one random peer, one in five to three), 30 % unread inbox pages of 50 without
bodies, 15 % MarkRead of what the last page showed, 15 % GetMessage of one of those. Every
agent also holds a SubscribeInbox stream in a separate subscriber process, which measures
delivery latency of the sends. Searches join the mix with the search scenario (issue 6).
The ceiling is the empty unary RPC with as many calls in flight as there are agents.
"""

from __future__ import annotations

import dataclasses

from bench.core import Measurement, Run, load_value, measured
from bench.hdr import Histogram
from bench.loadgen import (
    GET_MESSAGE,
    LIST_INBOX,
    MARK_READ,
    SEND,
    LoadResult,
    MixedAgents,
)
from bench.scenarios import ceiling
from bench.seed import SeededProject, Seeder
from bench.server import ServerProcess
from bench.subscribers import Subscribers

SCENARIO = "6"
TITLE = "mixed agent workload"
BODY = "x" * 512
WEIGHTS = (("send", 0.40), ("list_inbox", 0.30), ("mark_read", 0.15), ("get_message", 0.15))
METHODS = {
    "send": SEND,
    "list_inbox": LIST_INBOX,
    "mark_read": MARK_READ,
    "get_message": GET_MESSAGE,
}
LIVE_TIMEOUT = 300.0


@dataclasses.dataclass(frozen=True)
class Fixtures:
    """The agents of the mixed workload."""

    team: SeededProject


def seed(seeder: Seeder, run: Run) -> Fixtures:
    """``mixed_agents`` agents M0.. in one project."""
    return Fixtures(
        seeder.project("/bench/mixed", [f"M{i}" for i in range(run.scale.mixed_agents)])
    )


def run_scenario(run: Run, server: ServerProcess, fixtures: Fixtures) -> None:
    """Measure the ceiling at ``mixed_agents`` in flight, then the mix with subscribers."""
    scale = run.scale
    agents = tuple((agent.name, agent.token) for agent in fixtures.team.agents)
    count = len(agents)
    ceiling_key = f"ceiling.unary.c{count}"
    if ceiling_key not in run.ceilings:
        ceiling.unary(run, server, "ceiling", count)
    job = MixedAgents(
        address=server.address,
        agents=agents,
        weights=WEIGHTS,
        body=BODY,
        seconds=scale.mixed_seconds,
        warmup_seconds=scale.mixed_warmup_seconds,
    )
    tokens = tuple(token for _, token in agents)
    with run.worker(Subscribers(server.address, tokens)) as subscribers:
        subscribers.expect("live", LIVE_TIMEOUT)
        subscribers.send("reset")
        subscribers.expect("reset", 30)
        results, side = measured(run, server, job)
        sent = results["send"].ok
        subscribers.send("report")
        delivered, _items, _failures = subscribers.expect("report", 60)
        subscribers.send("stop")
        subscribers.result(60)
    top = run.ceilings.get(ceiling_key)
    total = Histogram()
    for result in results.values():
        total.merge(result.hist)
    any_result: LoadResult = next(iter(results.values()))
    combined = LoadResult(total, total.count, any_result.seconds, {}, any_result.client_cpu_seconds)
    run.add(
        Measurement(
            key="s6.all",
            scenario=SCENARIO,
            name=f"{count} agents, all operations",
            value=load_value(combined, side, agents=count),
            ceiling=top,
            hist=total,
        )
    )
    for op, result in results.items():
        value = load_value(result, None, share=round(result.ok / max(total.count, 1), 3))
        del value["client_cpu_us_per_call"]  # the process's CPU is shared by all operations
        run.add(
            Measurement(
                key=f"s6.{op}",
                scenario=SCENARIO,
                name=f"{count} agents: {op}",
                value=value,
                ceiling=top,
                server=side.quantiles(METHODS[op]),
                hist=result.hist,
            )
        )
    run.add(
        Measurement(
            key="s6.delivery",
            scenario=SCENARIO,
            name=f"{count} agents: delivery latency send -> subscriber",
            value={"count": delivered.count, "sent": sent, "latency_ms": delivered.summary_ms()},
            ceiling=top,
            hist=delivered,
            note="sends to three peers count three deliveries",
        )
    )
