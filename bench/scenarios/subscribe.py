"""Scenario 4: push delivery through SubscribeInbox.

Three parts, with the server, the senders and the subscribers each in its own process:

- Delivery latency: one subscriber; a sender offers sends at fixed rates (open loop). Each
  subject carries its intended send time, so the subscriber measures send -> receive. The
  send latency at the same rate is measured in the same phase (the goal compares them), and
  the ceiling is the empty unary RPC offered at the same rate.
- Idle subscriptions: ``idle_subscriptions`` streams (one agent each, projects of 1,000) opened
  in two halves by two processes; the server's resident memory (VmRSS from /proc) is read
  before, between and after: growth per subscription.
- Fan-out: with those streams still open, an agent broadcasts to the ``broadcast_recipients``
  other agents of its project, all subscribed; the time from the start of the send until the
  last subscriber has the message. Its ceiling is the time the ceiling stream needs to push
  as many messages on one stream.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time

from agentmail.v1 import mail_service_pb2

from bench.core import Ceiling, Measurement, Run, load_value, log, measured
from bench.hdr import Histogram
from bench.loadgen import CEILING_UNARY, SEND, OpenLoop, Sender
from bench.procs import Worker
from bench.seed import SeededAgent, SeededProject, Seeder
from bench.server import ServerProcess
from bench.subscribers import Subscribers

SCENARIO = "4"
TITLE = "subscriptions"
BODY = "x" * 512
PROJECT_SIZE = 1000
LIVE_TIMEOUT = 600.0
DRAIN_SECONDS = 10.0


@dataclasses.dataclass(frozen=True)
class Fixtures:
    """A sender/receiver pair, and the idle-subscription projects (the first also fans out)."""

    pair: SeededProject
    idle: tuple[SeededProject, ...]


def seed(seeder: Seeder, run: Run) -> Fixtures:
    """The latency pair; ``idle_subscriptions`` agents in projects of at most 1,000, the first
    holding the broadcaster F and its ``broadcast_recipients`` receivers."""
    pair = seeder.project("/bench/latency", ["Sender", "Receiver"])
    total = run.scale.idle_subscriptions
    fanout = run.scale.broadcast_recipients
    projects = [seeder.project("/bench/subs/0", ["F"] + [f"I{i}" for i in range(fanout)])]
    made = fanout
    while made < total:
        size = min(PROJECT_SIZE, total - made)
        names = [f"I{i}" for i in range(made, made + size)]
        projects.append(seeder.project(f"/bench/subs/{len(projects)}", names))
        made += size
    return Fixtures(pair, tuple(projects))


def _idle_agents(fixtures: Fixtures) -> list[SeededAgent]:
    return [a for project in fixtures.idle for a in project.agents if a.name.startswith("I")]


def run_scenario(run: Run, server: ServerProcess, fixtures: Fixtures) -> None:
    """Delivery latency at each rate, then idle memory, then fan-out."""
    _delivery(run, server, fixtures)
    _idle_and_fanout(run, server, fixtures)


def _open_loop(
    run: Run, server: ServerProcess, rate: float, method: str, token: str, recipient: str
) -> OpenLoop:
    scale = run.scale
    return OpenLoop(
        address=server.address,
        method=method,
        request=b"",
        token=token,
        recipient=recipient,
        body=BODY,
        rate=rate,
        seconds=scale.delivery_seconds,
        warmup_seconds=scale.delivery_warmup_seconds,
    )


def _delivery(run: Run, server: ServerProcess, fixtures: Fixtures) -> None:
    sender = fixtures.pair.agent("Sender").token
    receiver = fixtures.pair.agent("Receiver")
    with run.worker(Subscribers(server.address, (receiver.token,))) as subscriber:
        subscriber.expect("live", LIVE_TIMEOUT)
        for rate in run.scale.delivery_rates:
            label = f"{rate:g}/s offered"
            job = _open_loop(run, server, rate, CEILING_UNARY, "", "")
            result, side = measured(run, server, job)
            ceiling_m = run.add(
                Measurement(
                    key=f"s4.ceiling.unary.r{rate:g}",
                    scenario=SCENARIO,
                    name=f"empty unary RPC, {label}",
                    value=load_value(result, side),
                    server=side.quantiles(CEILING_UNARY),
                    hist=result.hist,
                )
            )
            ceiling = Ceiling(
                ceiling_m.key,
                ceiling_m.name,
                ceiling_m.value["throughput"],
                ceiling_m.value["latency_ms"],
            )
            subscriber.send("reset")
            subscriber.expect("reset", 30)
            job = _open_loop(run, server, rate, SEND, sender, receiver.name)
            result, side = measured(run, server, job)
            run.add(
                Measurement(
                    key=f"s4.send.r{rate:g}",
                    scenario=SCENARIO,
                    name=f"send latency, {label}",
                    value=load_value(result, side),
                    ceiling=ceiling,
                    server=side.quantiles(SEND),
                    hist=result.hist,
                )
            )
            delivered, items = _wait_delivered(subscriber, result.ok)
            run.add(
                Measurement(
                    key=f"s4.delivery.r{rate:g}",
                    scenario=SCENARIO,
                    name=f"delivery latency send -> subscriber, {label}",
                    value={
                        "count": delivered.count,
                        "sent": result.ok,
                        "latency_ms": delivered.summary_ms(),
                        "offered_rate": rate,
                    },
                    ceiling=ceiling,
                    hist=delivered,
                    note=f"{items} items received by the subscriber in total",
                )
            )
        subscriber.send("stop")
        subscriber.result(60)


def _wait_delivered(subscriber: Worker, expected: int) -> tuple[Histogram, int]:
    """Poll the subscriber until ``expected`` timed items arrived (bounded)."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while True:
        subscriber.send("report")
        hist, items, _failures = subscriber.expect("report", 60)
        if hist.count >= expected or time.monotonic() > deadline:
            return hist, items
        time.sleep(0.1)


def _idle_and_fanout(run: Run, server: ServerProcess, fixtures: Fixtures) -> None:
    idle = _idle_agents(fixtures)
    half = len(idle) // 2
    tokens = [a.token for a in idle]
    log(f"scenario 4: opening {len(idle):,} idle subscriptions")
    rss = [server.rss_bytes()]
    threads = server.threads()
    with contextlib.ExitStack() as stack:
        first = stack.enter_context(
            run.worker(Subscribers(server.address, tuple(tokens[:half]), live_timeout=LIVE_TIMEOUT))
        )
        live1, seconds1, failed1 = first.expect("live", LIVE_TIMEOUT)
        time.sleep(0.5)
        rss.append(server.rss_bytes())
        second = stack.enter_context(
            run.worker(Subscribers(server.address, tuple(tokens[half:]), live_timeout=LIVE_TIMEOUT))
        )
        live2, seconds2, failed2 = second.expect("live", LIVE_TIMEOUT)
        time.sleep(0.5)
        rss.append(server.rss_bytes())
        opened = live1 + live2
        growth = rss[2] - rss[0]
        run.add(
            Measurement(
                key="s4.idle_memory",
                scenario=SCENARIO,
                name=f"{opened:,} idle subscriptions: server memory",
                value={
                    "subscriptions": opened,
                    "per_subscription_kib": round(growth / max(opened, 1) / 1024, 2),
                    "second_half_per_subscription_kib": round(
                        (rss[2] - rss[1]) / max(live2, 1) / 1024, 2
                    ),
                    "rss_mib": [round(value / 2**20, 1) for value in rss],
                    "open_seconds": round(seconds1 + seconds2, 2),
                    "server_threads": [threads, server.threads()],
                    "failures": {**failed1, **failed2},
                },
                note="VmRSS of the server before, after the first half, after all",
            )
        )
        in_first = min(half, run.scale.broadcast_recipients)
        holders = [(first, in_first), (second, run.scale.broadcast_recipients - in_first)]
        _fanout(run, server, fixtures, holders)
        for worker in (first, second):
            worker.send("stop")
            worker.result(120)


def _fanout(
    run: Run, server: ServerProcess, fixtures: Fixtures, subscribers: list[tuple[Worker, int]]
) -> None:
    """Broadcasts from F; ``subscribers`` are (process, how many recipients it holds)."""
    project = fixtures.idle[0]
    broadcaster = project.agent("F").token
    recipients = run.scale.broadcast_recipients
    request = mail_service_pb2.SendMessageRequest(
        subject="bench fan-out", body=BODY, broadcast=True
    ).SerializeToString()
    last, first, send = Histogram(), Histogram(), Histogram()
    incomplete = 0
    with run.worker(Sender(server.address)) as sender:
        sender.expect("ready", 60)
        for index in range(run.scale.fanout_broadcasts + 1):
            sender.send("send", (request, broadcaster))
            message_id, started, finished = sender.expect("sent", 60)
            count, first_ns, last_ns = _receipts(subscribers, message_id)
            if index == 0:
                continue  # the first broadcast warms up
            if count < recipients:
                incomplete += 1
                continue
            last.record(last_ns - started)
            first.record(first_ns - started)
            send.record(finished - started)
        sender.send("stop")
        sender.result(60)
    stream = run.ceilings.get("ceiling.stream")
    ceiling = None
    if stream is not None and stream.throughput:
        push_ms = round(recipients / stream.throughput * 1e3, 3)
        ceiling = Ceiling(
            stream.key,
            f"ceiling stream pushing {recipients:,} messages",
            0.0,
            {"p50": push_ms, "p99": push_ms},
        )
    run.add(
        Measurement(
            key="s4.fanout",
            scenario=SCENARIO,
            name=f"broadcast to {recipients:,} subscribed recipients: last receive",
            value={
                "count": last.count,
                "recipients": recipients,
                "latency_ms": last.summary_ms(),
                "first_receive_ms": first.summary_ms(),
                "send_ms": send.summary_ms(),
                "incomplete": incomplete,
                "last_receive_ms": last.summary_ms()["p50"],
            },
            ceiling=ceiling,
            hist=last,
            note="from the start of the send to the moment the last subscriber has it",
        )
    )


def _receipts(subscribers: list[tuple[Worker, int]], message_id: int) -> tuple[int, int, int]:
    """How many subscribers got ``message_id``, first and last receive time (ns)."""
    holding = [(worker, expected) for worker, expected in subscribers if expected > 0]
    for worker, expected in holding:
        worker.send("wait_ids", ([message_id], expected, 60.0))
    count, first, last = 0, 0, 0
    for worker, _ in holding:
        got, first_ns, last_ns = worker.expect("ids", 120)[message_id]
        count += got
        if got:
            first = first_ns if not first else min(first, first_ns)
            last = max(last, last_ns)
    return count, first, last
