"""Scenario "scaleout" (issue 17): durable sends with 1, 2 and 3 server processes on one PostgreSQL
database, beside one SQLite process and the empty-RPC ceiling, in one run.

Each PostgreSQL phase starts its processes on a fresh scratch database (created on the server at
``AGENTMAIL_BENCH_POSTGRES``, default ``postgresql://postgres@127.0.0.1:5432/postgres``, and
dropped afterwards), archive off (the phase measures the database path), and drives every
process with a load generator of its own (``CONCURRENCY`` sends in flight each, one sender agent
per worker, one recipient): the figure is the sum of their sends per second, with latency
percentiles over all calls. The SQLite process (archive off too, so the comparison is storage
against storage) and the ceiling (the empty RPC on that SQLite server, at the same total
concurrency as one process) run in the same run. CPU per send sums the server processes and the
load generators; the PostgreSQL server's own CPU is reported beside it (its backends, from
/proc).

Without a PostgreSQL server the scenario is recorded as skipped, saying why.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import grpc
from agentmail.v1 import agent_service_pb2, agent_service_pb2_grpc

from bench import pg_scratch
from bench.core import Measurement, Run, Skipped, load_value
from bench.hdr import Histogram
from bench.loadgen import CEILING_UNARY, SEND, ClosedLoop, LoadResult
from bench.scenarios import send
from bench.server import ServerProcess, running_server

SCENARIO = "scaleout"
TITLE = "scale-out on PostgreSQL"
CONCURRENCY = 16
PROCESSES = (1, 2, 3)
PHASE_TIMEOUT = 600.0
ADMIN_URL = os.environ.get(
    "AGENTMAIL_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
NO_LIMIT = ("--rate-limit-write-per-second", "1000000")


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5432), 2):
            return True
    except OSError:
        return False


def _team(address: str, senders: int) -> list[str]:
    """Register a project's recipient R0 and ``senders`` senders through ``address``; the
    senders' tokens."""
    with grpc.insecure_channel(address) as channel:
        agents = agent_service_pb2_grpc.AgentServiceStub(channel)
        slug = agents.EnsureProject(
            agent_service_pb2.EnsureProjectRequest(human_key="/bench/scaleout")
        ).project.slug
        agents.RegisterAgent(agent_service_pb2.RegisterAgentRequest(project=slug, name="R0"))
        return [
            agents.RegisterAgent(
                agent_service_pb2.RegisterAgentRequest(project=slug, name=f"S{i}")
            ).agent_token
            for i in range(senders)
        ]


def _load(
    run: Run, servers: list[ServerProcess], method: str, request: bytes, tokens: list[str]
) -> tuple[LoadResult, float, float]:
    """Drive every server with its own load generator at once; the merged result, the
    servers' CPU seconds and PostgreSQL's."""
    count = run.scale.calls(run.scale.send_calls, CONCURRENCY)
    jobs = [
        ClosedLoop(
            address=server.address,
            method=method,
            requests=(request,),
            tokens=tuple(tokens[n * CONCURRENCY : (n + 1) * CONCURRENCY]),
            concurrency=CONCURRENCY,
            warmup=min(run.scale.warmup_calls, max(count // 4, CONCURRENCY)),
            count=count,
            max_seconds=run.scale.max_seconds,
        )
        for n, server in enumerate(servers)
    ]
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(run.worker(job)) for job in jobs]
        for worker in workers:
            worker.expect("warm", PHASE_TIMEOUT)
        before = sum(s.cpu_seconds() for s in servers), pg_scratch.postgres_cpu_seconds()
        for worker in workers:
            worker.send("go")
        results: list[LoadResult] = [worker.result(PHASE_TIMEOUT) for worker in workers]
        after = sum(s.cpu_seconds() for s in servers), pg_scratch.postgres_cpu_seconds()
    hist = Histogram()
    errors: dict[str, int] = {}
    for result in results:
        hist.merge(result.hist)
        for key, value in result.errors.items():
            errors[key] = errors.get(key, 0) + value
    merged = LoadResult(
        hist=hist,
        ok=sum(r.ok for r in results),
        # Concurrent phases: the longest one is the elapsed time of all.
        seconds=max(r.seconds for r in results),
        errors=errors,
        client_cpu_seconds=sum(r.client_cpu_seconds for r in results),
    )
    return merged, after[0] - before[0], after[1] - before[1]


def _record(
    run: Run,
    key: str,
    name: str,
    measured: tuple[LoadResult, float, float],
    processes: int,
    ceiling: dict[str, float] | None,
) -> Measurement:
    result, server_cpu, postgres_cpu = measured
    calls = max(result.ok, 1)
    extra: dict[str, Any] = {
        "processes": processes,
        "concurrency": CONCURRENCY * processes,
        "server_cpu_us_per_call": round(server_cpu / calls * 1e6, 1),
        "postgres_cpu_us_per_call": round(postgres_cpu / calls * 1e6, 1),
        "total_cpu_us_per_call": round(
            (server_cpu + postgres_cpu + result.client_cpu_seconds) / calls * 1e6, 1
        ),
    }
    if ceiling is not None:
        extra["ratio"] = round(result.throughput / ceiling["rate"], 3)
        extra["cpu_ratio"] = round(ceiling["cpu_us"] / max(extra["total_cpu_us_per_call"], 1), 3)
    return run.add(
        Measurement(
            key=key,
            scenario=SCENARIO,
            name=name,
            value=load_value(result, None, **extra),
            hist=result.hist,
            note="fsync on; archive off on both backends (the phase measures the database "
            "path); ratio = sends/s over the empty RPC's calls/s on one process",
        )
    )


def run_scenario(run: Run) -> None:
    """Keys ``scaleout.ceiling``, ``scaleout.sqlite.p1`` and ``scaleout.pg.p{1,2,3}``."""
    if not _listening(ADMIN_URL):
        where = urlsplit(ADMIN_URL)
        run.skipped.append(
            Skipped(
                SCENARIO,
                TITLE,
                f"no PostgreSQL server on {where.hostname}:{where.port or 5432}"
                " (set AGENTMAIL_BENCH_POSTGRES)",
            )
        )
        return
    request = send.send_request(["R0"])
    data = run.data_dir("scaleout-sqlite")
    with running_server(data, archive=False, extra=NO_LIMIT) as server:
        run.settled("scaleout-sqlite", server)
        tokens = _team(server.address, CONCURRENCY)
        empty = _load(run, [server], CEILING_UNARY, b"", [])
        ceiling_m = _record(run, "scaleout.ceiling", "empty unary RPC, 1 process", empty, 1, None)
        rate = float(ceiling_m.value["throughput"])
        if not rate:
            run.skipped.append(Skipped(SCENARIO, TITLE, "FAILED: no empty calls completed"))
            return
        ceiling = {"rate": rate, "cpu_us": float(ceiling_m.value["total_cpu_us_per_call"])}
        sends = _load(run, [server], SEND, request, tokens)
        _record(run, "scaleout.sqlite.p1", "SQLite, 1 process", sends, 1, ceiling)
    for processes in PROCESSES:
        with pg_scratch.scratch_database(ADMIN_URL) as url, contextlib.ExitStack() as stack:
            extra = ("--database-url", url, *NO_LIMIT)
            servers = []
            for n in range(processes):
                folder = run.data_dir(f"scaleout-pg{processes}-{n}")
                servers.append(
                    stack.enter_context(running_server(folder, archive=False, extra=extra))
                )
            tokens = _team(servers[0].address, CONCURRENCY * processes)
            measured = _load(run, servers, SEND, request, tokens)
            _record(
                run,
                f"scaleout.pg.p{processes}",
                f"PostgreSQL, {processes} process{'es' if processes > 1 else ''}",
                measured,
                processes,
                ceiling,
            )
