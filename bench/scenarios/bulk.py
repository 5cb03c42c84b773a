"""Scenario "bulk": SendMessages at 1, 8, 64 and 256 messages per call, beside the empty RPC
and unary sends on the same server in the same run.

Its own server (fsync on every commit, archive on, the flood guard off as everywhere in the
bench) with the write rate limit raised out of the way: the limit counts messages, and at
its default (1,000 a second per agent) it, not the server, would set every figure here; the
check itself still runs on every call. ``CONCURRENCY`` calls are in flight, each worker its
own agent, each message to one recipient with a 512-byte body.

Every figure reports messages per second (calls per second times messages per call) and its
ratio to the empty RPC's *call* rate at the same concurrency (the issue's goal: >= 2x at 64
per call), and CPU per message: the server process, the archive worker (its child) and the
load generator, summed, and the CPU ratio (that sum per empty call over per message).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

from agentmail.v1 import mail_service_pb2

from bench.core import Measurement, Run, Skipped, load_value
from bench.loadgen import CEILING_UNARY, MAIL, SEND, ClosedLoop, LoadResult
from bench.scenarios import send
from bench.seed import Seeder
from bench.server import ServerProcess, running_server

SCENARIO = "bulk"
TITLE = "bulk send"
SEND_MANY = MAIL + "SendMessages"
CONCURRENCY = 8
PER_CALL = (1, 8, 64, 256)
PHASE_TIMEOUT = 600.0
# The write tier's rate per agent on this server (its check still runs; see the docstring).
WRITE_RATE = "1000000"


def tree_cpu_seconds(pid: int) -> float:
    """User plus system CPU of ``pid`` and its live children (the archive worker)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    for task in pathlib.Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        pids += [int(child) for child in children]
    for each in pids:
        try:
            fields = pathlib.Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def bulk_request(per_call: int) -> bytes:
    """A serialized SendMessagesRequest of ``per_call`` messages to R0."""
    item = mail_service_pb2.SendMessageRequest(to=["R0"], subject="bench bulk", body=send.BODY)
    return mail_service_pb2.SendMessagesRequest(messages=[item] * per_call).SerializeToString()


def _phase(
    run: Run, server: ServerProcess, method: str, request: bytes, tokens: list[str], count: int
) -> tuple[LoadResult, float, float]:
    """One measured phase: the load, server CPU and server + archive CPU (seconds)."""
    job = ClosedLoop(
        address=server.address,
        method=method,
        requests=(request,),
        tokens=tuple(tokens),
        concurrency=CONCURRENCY,
        warmup=min(run.scale.warmup_calls, max(count // 4, CONCURRENCY)),
        count=count,
        max_seconds=run.scale.max_seconds,
    )
    with run.worker(job) as worker:
        worker.expect("warm", PHASE_TIMEOUT)
        own, tree = server.cpu_seconds(), tree_cpu_seconds(server.pid)
        worker.send("go")
        result: LoadResult = worker.result(PHASE_TIMEOUT)
        own, tree = server.cpu_seconds() - own, tree_cpu_seconds(server.pid) - tree
    return result, own, tree


def _record(
    run: Run,
    key: str,
    name: str,
    measured: tuple[LoadResult, float, float],
    per_call: int,
    ceiling: dict[str, float] | None,
) -> Measurement:
    result, own, tree = measured
    messages = max(result.ok * per_call, 1)
    total_us = (tree + result.client_cpu_seconds) / messages * 1e6
    extra: dict[str, Any] = {
        "concurrency": CONCURRENCY,
        "messages_per_call": per_call,
        "messages_per_second": round(result.throughput * per_call, 1),
        "server_cpu_us_per_message": round(own / messages * 1e6, 1),
        "archive_cpu_us_per_message": round((tree - own) / messages * 1e6, 1),
        "total_cpu_us_per_message": round(total_us, 1),
    }
    if ceiling is not None:
        extra["messages_ratio"] = round(extra["messages_per_second"] / ceiling["rate"], 3)
        extra["cpu_ratio"] = round(ceiling["cpu_us"] / max(total_us, 1e-9), 3)
        extra["ceiling_calls_per_second"] = round(ceiling["rate"], 1)
    measurement = Measurement(
        key=key,
        scenario=SCENARIO,
        name=name,
        value=load_value(result, None, **extra),
        hist=result.hist,
        note="latency is per call; messages_ratio = messages/s over the empty RPC's calls/s",
    )
    measurement.value["server_cpu_us_per_call"] = round(own / max(result.ok, 1) * 1e6, 1)
    return run.add(measurement)


def run_scenario(run: Run) -> None:
    """Keys ``bulk.ceiling.c8``, ``bulk.unary.c8`` and ``bulk.n{1,8,64,256}.c8``."""
    data = run.data_dir("bulk")
    with Seeder(data) as seeder:
        team = seeder.project("/bench/bulk", [f"S{i}" for i in range(CONCURRENCY)] + ["R0"])
    senders = [agent.token for agent in team.agents if agent.name.startswith("S")]
    extra = ("--rate-limit-write-per-second", WRITE_RATE, "--sqlite-synchronous", "full")
    with running_server(data, cpus=run.server_cpus, archive=True, extra=extra) as server:
        run.settled("bulk", server)
        calls = run.scale.calls(run.scale.ceiling_calls, CONCURRENCY)
        empty = _phase(run, server, CEILING_UNARY, b"", [], calls)
        ceiling_m = _record(run, f"bulk.ceiling.c{CONCURRENCY}", "empty unary RPC", empty, 1, None)
        rate = float(ceiling_m.value["throughput"])
        if not rate:
            run.skipped.append(Skipped(SCENARIO, TITLE, "FAILED: no empty calls completed"))
            return
        ceiling = {"rate": rate, "cpu_us": float(ceiling_m.value["total_cpu_us_per_message"])}
        sends = run.scale.calls(run.scale.send_calls, CONCURRENCY)
        unary = _phase(run, server, SEND, send.send_request(["R0"]), senders, sends)
        _record(run, f"bulk.unary.c{CONCURRENCY}", "unary SendMessage", unary, 1, ceiling)
        budget = run.scale.send_calls[-1] * 10  # messages per bulk phase (time-bounded too)
        for per_call in PER_CALL:
            count = max(CONCURRENCY * 2, budget // per_call)
            measured = _phase(run, server, SEND_MANY, bulk_request(per_call), senders, count)
            _record(
                run,
                f"bulk.n{per_call}.c{CONCURRENCY}",
                f"SendMessages, {per_call} per call",
                measured,
                per_call,
                ceiling,
            )
