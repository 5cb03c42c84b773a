"""Scenario 1: durable sends (fsynced group commit, token auth) with a 512-byte body.

One recipient sequentially (latency) and at 1/8/64/256 in flight (throughput curve), each
in-flight worker sending as its own agent; ten recipients; and a broadcast to every other agent
of a project of ``broadcast_recipients + 1`` agents. Each figure's ceiling is the empty unary
RPC at the same number in flight on the same server.
"""

from __future__ import annotations

import dataclasses

from agentmail.v1 import mail_service_pb2

from bench.core import Run, closed_loop
from bench.disk_sync import fsync_ceiling
from bench.loadgen import SEND
from bench.scale import CONCURRENCY
from bench.seed import SeededProject, Seeder
from bench.server import ServerProcess

SCENARIO = "1"
TITLE = "durable send"
BODY = "x" * 512


@dataclasses.dataclass(frozen=True)
class Fixtures:
    """Agents the scenario sends as and to."""

    team: SeededProject
    broadcast: SeededProject


def seed(seeder: Seeder, run: Run) -> Fixtures:
    """Senders S0..S255 and receivers R0..R9; a broadcast project with B and its receivers."""
    senders = [f"S{i}" for i in range(max(CONCURRENCY))]
    receivers = [f"R{i}" for i in range(10)]
    team = seeder.project("/bench/send", senders + receivers)
    names = ["B"] + [f"L{i}" for i in range(run.scale.broadcast_recipients)]
    return Fixtures(team, seeder.project("/bench/broadcast", names))


def send_request(to: list[str], broadcast: bool = False) -> bytes:
    """A serialized SendMessageRequest with the scenario's body."""
    return mail_service_pb2.SendMessageRequest(
        to=to, subject="bench send", body=BODY, broadcast=broadcast
    ).SerializeToString()


def run_scenario(run: Run, server: ServerProcess, fixtures: Fixtures) -> None:
    """Measure every send figure of scenario 1 on ``server``."""
    scale = run.scale
    senders = [agent.token for agent in fixtures.team.agents if agent.name.startswith("S")]
    one = send_request(["R0"])
    # The disk's share of a lone send's latency, on the scratch folder's file system (the data
    # folders' own): the sequential goal's floor is the empty RPC plus this.
    fsync_ceiling(run, run.scratch, "s1.ceiling.fsync", SCENARIO, scale.send_calls[0])
    for concurrency in CONCURRENCY:
        closed_loop(
            run,
            server,
            key=f"s1.send.c{concurrency}",
            scenario=SCENARIO,
            name=f"send, 1 recipient, {concurrency} in flight",
            method=SEND,
            requests=(one,),
            tokens=senders[:concurrency],
            concurrency=concurrency,
            count=scale.calls(scale.send_calls, concurrency),
            ceiling=f"ceiling.unary.c{concurrency}",
            recipients=1,
        )
    ten = send_request([f"R{i}" for i in range(10)])
    for concurrency, count in zip((1, 64), scale.ten_recipient_calls, strict=True):
        closed_loop(
            run,
            server,
            key=f"s1.send10.c{concurrency}",
            scenario=SCENARIO,
            name=f"send, 10 recipients, {concurrency} in flight",
            method=SEND,
            requests=(ten,),
            tokens=senders[:concurrency],
            concurrency=concurrency,
            count=count,
            ceiling=f"ceiling.unary.c{concurrency}",
            recipients=10,
        )
    broadcast = send_request([], broadcast=True)
    sender = fixtures.broadcast.agent("B").token
    recipients = scale.broadcast_recipients
    for concurrency, count in zip((1, 8), scale.broadcast_calls, strict=True):
        measurement = closed_loop(
            run,
            server,
            key=f"s1.broadcast.c{concurrency}",
            scenario=SCENARIO,
            name=f"broadcast to {recipients:,} recipients, {concurrency} in flight",
            method=SEND,
            requests=(broadcast,),
            tokens=(sender,),
            concurrency=concurrency,
            count=count,
            ceiling=f"ceiling.unary.c{concurrency}",
            recipients=recipients,
        )
        value = measurement.value
        value["deliveries_per_second"] = round(value["throughput"] * recipients, 1)
