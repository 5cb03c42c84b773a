"""Scenario 5: the git archive on vs off, two servers in the same run, back to back.

Each server gets a fresh data folder seeded alike (64 senders and one recipient, as in the
uvloop comparison) and is started with ``--archive false`` and then ``--archive true``. On each,
the empty unary RPC at 64 in flight is measured first (its own ceiling), then a sustained send
phase at 64 in flight (1 recipient, 512-byte body, each in-flight worker its own agent),
bounded by ``archive_seconds`` and a count. The ratio of send throughput on / off is the goal
(≥ 0.9x). During the archive-on phase the bench scrapes the metrics endpoint every
``SAMPLE_SECONDS`` for ``agentmail_archive_lag_messages`` and ``agentmail_archive_lag_seconds``
(committed messages not yet archived, and the age of the oldest of them), and after the load
it waits (bounded) until the archive has caught up.
"""

from __future__ import annotations

import re
import statistics
import threading
import time
from typing import Any

from bench.core import Measurement, Run, ServerSide, load_value, log
from bench.loadgen import SEND, ClosedLoop
from bench.scenarios import ceiling, send
from bench.seed import Seeder
from bench.server import ServerProcess, running_server

SCENARIO = "5"
TITLE = "archive on vs off"
CONCURRENCY = 64
SAMPLE_SECONDS = 0.25
CATCH_UP_SECONDS = 60.0
PHASE_TIMEOUT = 600.0
LAG = re.compile(r"^(agentmail_archive_lag_(?:messages|seconds))(?:\{[^}]*\})? (\S+)$", re.M)
STORED = re.compile(
    r"^agentmail_archive_(pack_bytes|pack_files|messages_total|commits_total) (\S+)$", re.M
)


def lag(text: str | None) -> dict[str, float]:
    """The archive lag gauges in a metrics exposition (empty when the archive is off)."""
    found: dict[str, float] = {}
    for name, value in LAG.findall(text or ""):
        found[name.removeprefix("agentmail_archive_lag_")] = float(value)
    return found


class _Sampler(threading.Thread):
    """Scrapes the server's archive lag every ``SAMPLE_SECONDS`` until stopped."""

    def __init__(self, server: ServerProcess) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.samples: list[dict[str, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            sample = lag(self.server.scrape())
            if sample:
                self.samples.append(sample)
            self.halt.wait(SAMPLE_SECONDS)


def _spread(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 3),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 3),
        "max": round(ordered[-1], 3),
        "mean": round(statistics.fmean(ordered), 3),
    }


def stored(text: str | None) -> dict[str, float]:
    """What the archive has written since start and the size of its packs, from /metrics."""
    return {name: float(value) for name, value in STORED.findall(text or "")}


def _catch_up(server: ServerProcess) -> float | None:
    """Seconds until the archive lag is back to 0 messages (None: not within the bound)."""
    started = time.monotonic()
    while time.monotonic() - started < CATCH_UP_SECONDS:
        if lag(server.scrape()).get("messages", 0.0) <= 0:
            return round(time.monotonic() - started, 2)
        time.sleep(0.05)
    return None


def _send_phase(
    run: Run, server: ServerProcess, label: str, senders: list[str]
) -> tuple[Measurement, list[dict[str, float]]]:
    """The sustained send phase at 64 in flight, sampling the archive lag meanwhile."""
    scale = run.scale
    prefix = f"s5.{label}"
    job = ClosedLoop(
        address=server.address,
        method=SEND,
        requests=(send.send_request(["R0"]),),
        tokens=tuple(senders[:CONCURRENCY]),
        concurrency=CONCURRENCY,
        warmup=scale.calls(scale.send_calls, CONCURRENCY) // 4,
        count=int(scale.archive_seconds * 5000),  # a bound; the time limit ends the phase
        max_seconds=scale.archive_seconds,
    )
    sampler = _Sampler(server)
    with run.worker(job) as worker:
        worker.expect("warm", PHASE_TIMEOUT)
        before = server.scrape()
        cpu = server.cpu_seconds()
        sampler.start()
        worker.send("go")
        try:
            result = worker.result(PHASE_TIMEOUT)
        finally:
            sampler.halt.set()
            sampler.join(5)
        cpu = server.cpu_seconds() - cpu
        after = server.scrape()
    side = ServerSide(cpu, before, after)
    measurement = Measurement(
        key=f"{prefix}.send.c{CONCURRENCY}",
        scenario=SCENARIO,
        name=f"archive {label}: send, 1 recipient, {CONCURRENCY} in flight, sustained",
        value=load_value(result, side, concurrency=CONCURRENCY, archive=label == "on"),
        ceiling=run.ceilings.get(f"{prefix}.ceiling.unary.c{CONCURRENCY}"),
        server=side.quantiles(SEND),
        hist=result.hist,
        note="server CPU per call excludes the archive's catch-up after the phase",
    )
    run.add(measurement)
    return measurement, sampler.samples


def run_scenario(run: Run) -> None:
    """Measure both servers; keys ``s5.off.*``, ``s5.on.*``, ``s5.ratio``, ``s5.lag``."""
    throughput: dict[str, Measurement] = {}
    for archive in (False, True):
        label = "on" if archive else "off"
        data = run.data_dir(f"archive-{label}")
        with Seeder(data) as seeder:
            team = seeder.project("/bench/archive", [f"S{i}" for i in range(CONCURRENCY)] + ["R0"])
        senders = [agent.token for agent in team.agents if agent.name.startswith("S")]
        with running_server(data, cpus=run.server_cpus, archive=archive) as server:
            run.settled(f"archive-{label}", server)
            ceiling.unary(
                run, server, f"s5.{label}.ceiling", CONCURRENCY, SCENARIO, f" (archive {label})"
            )
            # The archive worker's CPU from before the phase until it caught up, over the
            # messages it archived meanwhile: its CPU per message under this load.
            worker_cpu = server.children_cpu_seconds()
            archived = stored(server.scrape()).get("messages_total", 0.0)
            measurement, samples = _send_phase(run, server, label, senders)
            throughput[label] = measurement
            if archive:
                caught = _catch_up(server)
                written = stored(server.scrape())
                worker_cpu = server.children_cpu_seconds() - worker_cpu
                archived = written.get("messages_total", 0.0) - archived
                per_message = round(worker_cpu / archived * 1e6, 1) if archived > 0 else None
                _record_lag(run, samples, caught, measurement, written, per_message)
    _record_ratio(run, throughput["on"], throughput["off"])


def _record_lag(
    run: Run,
    samples: list[dict[str, float]],
    caught: float | None,
    phase: Measurement,
    written: dict[str, float],
    archive_cpu_us_per_message: float | None = None,
) -> None:
    messages = [s["messages"] for s in samples if "messages" in s]
    seconds = [s["seconds"] for s in samples if "seconds" in s]
    value: dict[str, Any] = {
        "samples": len(samples),
        "sample_every_seconds": SAMPLE_SECONDS,
        "lag_messages": _spread(messages),
        "lag_seconds": _spread(seconds),
        "catch_up_seconds": caught,
        "sends_per_second": phase.value.get("throughput"),
        "archived_messages": written.get("messages_total"),
        "archive_commits": written.get("commits_total"),
        "pack_files": written.get("pack_files"),
        "pack_bytes": written.get("pack_bytes"),
        # The worker's CPU from the phase's start until it caught up, per message archived.
        "archive_cpu_us_per_message": archive_cpu_us_per_message,
    }
    if written.get("messages_total"):
        value["pack_bytes_per_message"] = round(written["pack_bytes"] / written["messages_total"])
    if not samples:
        log("scenario 5: no archive lag gauges on the metrics endpoint")
    run.add(
        Measurement(
            key="s5.lag",
            scenario=SCENARIO,
            name=f"archive lag during sustained sends at {CONCURRENCY} in flight",
            value=value,
            note="agentmail_archive_lag_messages / _seconds scraped from /metrics during the "
            "archive-on send phase; catch_up_seconds: from the end of the load until 0 messages; "
            "pack_bytes: the repository's packs after catching up (no git gc)",
        )
    )


def _record_ratio(run: Run, on: Measurement, off: Measurement) -> None:
    on_rate, off_rate = on.value.get("throughput") or 0.0, off.value.get("throughput") or 0.0
    value: dict[str, Any] = {
        "ratio": round(on_rate / off_rate, 3) if off_rate else None,
        "on_per_second": on_rate,
        "off_per_second": off_rate,
    }
    on_ceiling, off_ceiling = on.ratios().get("throughput"), off.ratios().get("throughput")
    if on_ceiling and off_ceiling:
        value["ratio_of_ceiling_ratios"] = round(on_ceiling / off_ceiling, 3)
    run.add(
        Measurement(
            key="s5.ratio",
            scenario=SCENARIO,
            name=f"send throughput at {CONCURRENCY} in flight, archive on / off",
            value=value,
            note="goal >= 0.9x; ratio_of_ceiling_ratios divides each by its own server's "
            "empty-RPC ceiling (drift between the two servers cancels out)",
        )
    )
