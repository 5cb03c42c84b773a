"""What scenarios share: the run context, measurements and the measured-phase protocol."""

from __future__ import annotations

import contextlib
import dataclasses
import pathlib
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench import servermetrics
from bench.hdr import Histogram
from bench.loadgen import LoadResult
from bench.procs import Job, Pool, Worker
from bench.scale import Scale
from bench.server import ServerProcess

PHASE_TIMEOUT = 600.0


@dataclasses.dataclass
class Ceiling:
    """The reference a figure is compared with: name, throughput and latency (ms)."""

    key: str
    name: str
    throughput: float
    latency_ms: dict[str, float]
    # Client + server + archive worker CPU per call (µs), when measured: the CPU ratio's base.
    cpu_us_per_call: float | None = None


@dataclasses.dataclass
class Measurement:
    """One reported figure with its ceiling and ratios.

    ``key`` is stable across runs (goals, plots and comparisons refer to it). ``value`` holds
    the measured numbers: ``throughput`` (per second), ``latency_ms`` (p50, p90, p99, p99.9,
    max, mean), and whatever else the scenario reports.
    """

    key: str
    scenario: str
    name: str
    value: dict[str, Any]
    ceiling: Ceiling | None = None
    server: dict[str, Any] | None = None
    hist: Histogram | None = None
    note: str = ""

    def ratios(self) -> dict[str, float]:
        """Measured / ceiling for throughput, p50 and p99 where both exist."""
        out: dict[str, float] = {}
        if self.ceiling is None:
            return out
        throughput = self.value.get("throughput")
        if throughput and self.ceiling.throughput:
            out["throughput"] = round(throughput / self.ceiling.throughput, 3)
        latency = self.value.get("latency_ms") or {}
        for pct in ("p50", "p99"):
            if latency.get(pct) and self.ceiling.latency_ms.get(pct):
                out[pct] = round(latency[pct] / self.ceiling.latency_ms[pct], 3)
        # The CPU ratio: all CPU (client, server, archive worker) per ceiling call over per
        # call here; noise moves it less than throughput on a shared machine.
        total = self.value.get("total_cpu_us_per_call")
        if total and self.ceiling.cpu_us_per_call:
            out["cpu"] = round(self.ceiling.cpu_us_per_call / total, 3)
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON form (the histogram as compact buckets)."""
        return {
            "key": self.key,
            "scenario": self.scenario,
            "name": self.name,
            "value": self.value,
            "ceiling": dataclasses.asdict(self.ceiling) if self.ceiling else None,
            "ratio": self.ratios(),
            "server": self.server,
            "note": self.note,
            "histogram": self.hist.to_dict() if self.hist is not None else None,
        }


@dataclasses.dataclass
class Skipped:
    """A registered scenario that did not run, and why."""

    scenario: str
    title: str
    reason: str


@dataclasses.dataclass
class Run:
    """One bench run: its scale, scratch folder, placement and what it has measured so far."""

    scale: Scale
    scratch: pathlib.Path
    server_cpus: tuple[int, ...] = ()
    client_cpus: tuple[int, ...] = ()
    measurements: list[Measurement] = dataclasses.field(default_factory=list)
    skipped: list[Skipped] = dataclasses.field(default_factory=list)
    ceilings: dict[str, Ceiling] = dataclasses.field(default_factory=dict)
    # Facts about the run that belong with the environment (seconds each server took to idle).
    notes: dict[str, Any] = dataclasses.field(default_factory=dict)
    started: float = dataclasses.field(default_factory=time.monotonic)
    pool: Pool = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.pool = Pool(self.client_cpus)

    def add(self, measurement: Measurement) -> Measurement:
        """Record a measurement and print a one-line summary."""
        if any(m.key == measurement.key for m in self.measurements):
            raise ValueError(f"measurement key {measurement.key!r} recorded twice")
        self.measurements.append(measurement)
        print("  " + summary_line(measurement), flush=True)
        return measurement

    def settled(self, name: str, server: ServerProcess) -> None:
        """Note how long ``server`` (called ``name``) took to go idle after its start."""
        self.notes.setdefault("server_idle_after_start_seconds", {})[name] = server.settled_after

    def data_dir(self, name: str) -> pathlib.Path:
        """A fresh data folder for one server."""
        path = self.scratch / name
        path.mkdir(parents=True, exist_ok=False)
        return path

    def worker(self, job: Job) -> contextlib.AbstractContextManager[Worker]:
        """``with run.worker(job) as worker``: ``job`` running in a load generator process."""
        return self.pool.job(job)


def summary_line(m: Measurement) -> str:
    """``key: 1234/s p50 1.2 ms p99 3.4 ms (x0.81 of ceiling)`` style line."""
    parts = [f"{m.key}:"]
    throughput = m.value.get("throughput")
    if throughput is not None:
        parts.append(f"{throughput:,.0f}/s")
    latency = m.value.get("latency_ms")
    if latency:
        parts.append(f"p50 {latency['p50']:.2f} ms p99 {latency['p99']:.2f} ms")
    for key in ("per_subscription_kib", "last_receive_ms", "ratio", "lag_messages", "lag_seconds"):
        if key in m.value:
            parts.append(f"{key} {m.value[key]}")
    for key, value in m.value.items():
        if key.endswith("_throughput_ratio"):  # comparisons such as s8.cost (TLS / plaintext)
            parts.append(f"{key.removesuffix('_throughput_ratio')} {value}x")
    ratios = m.ratios()
    if ratios:
        parts.append("ratio " + " ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    errors = m.value.get("errors")
    if errors:
        parts.append(f"errors {errors}")
    return " ".join(parts)


@dataclasses.dataclass
class ServerSide:
    """What the server did during a measured phase: CPU time and metrics before and after."""

    cpu_seconds: float
    before: str | None
    after: str | None
    # CPU of the server's child processes (the archive worker) in the phase.
    archive_cpu_seconds: float = 0.0

    def quantiles(self, method: str) -> dict[str, Any] | None:
        """Server-side p50/p99 of ``method`` in the phase; None without a metrics endpoint."""
        return servermetrics.method_quantiles(self.before, self.after, method)


def measured(
    run: Run, server: ServerProcess, job: Job, timeout: float = PHASE_TIMEOUT
) -> tuple[Any, ServerSide]:
    """Run ``job`` in a load generator: warm-up, snapshot the server, measure, snapshot again.

    The job must report ``warm`` and then wait for ``go`` (see :mod:`bench.loadgen`).
    """
    with run.worker(job) as worker:
        worker.expect("warm", timeout)
        before = server.scrape()
        cpu, children = server.cpu_seconds(), server.children_cpu_seconds()
        worker.send("go")
        result = worker.result(timeout)
        cpu = server.cpu_seconds() - cpu
        children = server.children_cpu_seconds() - children
        after = server.scrape()
    return result, ServerSide(cpu, before, after, max(children, 0.0))


def load_value(result: LoadResult, server: ServerSide | None, **extra: Any) -> dict[str, Any]:
    """The ``value`` dict of a load measurement."""
    value: dict[str, Any] = {
        "count": result.ok,
        "seconds": round(result.seconds, 3),
        "throughput": round(result.throughput, 1),
        "latency_ms": result.hist.summary_ms(),
        "client_cpu_us_per_call": round(result.client_cpu_seconds / max(result.ok, 1) * 1e6, 1),
    }
    if server is not None:
        value["server_cpu_us_per_call"] = round(server.cpu_seconds / max(result.ok, 1) * 1e6, 1)
        value["server_cpu_share"] = round(server.cpu_seconds / max(result.seconds, 1e-9), 2)
        archive = server.archive_cpu_seconds / max(result.ok, 1) * 1e6
        value["archive_cpu_us_per_call"] = round(archive, 1)
        value["total_cpu_us_per_call"] = round(
            value["client_cpu_us_per_call"] + value["server_cpu_us_per_call"] + archive, 1
        )
    if result.errors:
        value["errors"] = result.errors
    value.update(result.extra)
    value.update(extra)
    return value


def ceiling_of(run: Run, key: str) -> Ceiling | None:
    """A ceiling measured earlier in this run, by key."""
    return run.ceilings.get(key)


def log(message: str) -> None:
    """Progress on stderr (stdout stays for summaries)."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def concurrencies_up_to(levels: Sequence[int], most: int) -> list[int]:
    """The levels not above ``most``."""
    return [level for level in levels if level <= most]


def closed_loop(
    run: Run,
    server: ServerProcess,
    *,
    key: str,
    scenario: str,
    name: str,
    method: str,
    requests: Sequence[bytes],
    tokens: Sequence[str] = (),
    concurrency: int,
    count: int,
    ceiling: str | None,
    note: str = "",
    **extra: Any,
) -> Measurement:
    """Measure ``count`` calls of ``method`` at ``concurrency`` in flight and record them."""
    from bench.loadgen import ClosedLoop  # noqa: PLC0415 - avoids an import cycle at load

    scale = run.scale
    job = ClosedLoop(
        address=server.address,
        method=method,
        requests=tuple(requests),
        tokens=tuple(tokens),
        concurrency=concurrency,
        warmup=min(scale.warmup_calls, max(count // 4, concurrency)),
        count=count,
        max_seconds=scale.max_seconds,
        root_certificates=server.root_certificates,
    )
    result, side = measured(run, server, job)
    measurement = Measurement(
        key=key,
        scenario=scenario,
        name=name,
        value=load_value(result, side, concurrency=concurrency, **extra),
        ceiling=run.ceilings.get(ceiling) if ceiling else None,
        server=side.quantiles(method),
        hist=result.hist,
        note=note,
    )
    return run.add(measurement)


def as_ceiling(measurement: Measurement) -> Ceiling:
    """Use a measurement as the ceiling of later ones."""
    return Ceiling(
        key=measurement.key,
        name=measurement.name,
        throughput=float(measurement.value.get("throughput", 0.0)),
        latency_ms=dict(measurement.value.get("latency_ms", {})),
        cpu_us_per_call=measurement.value.get("total_cpu_us_per_call"),
    )
