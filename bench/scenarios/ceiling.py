"""Ceilings: what the same server answers when it does no work.

``agentmail.bench.Ceiling/Unary`` (empty bytes in and out) and ``/Stream`` (n payloads of 32
bytes) pass through the same interceptor as every real call, and the load generator calls
them exactly as it calls the real methods. The standard health ``Check`` is a second unary
ceiling: a real protobuf servicer that does no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from bench.core import Measurement, Run, as_ceiling, closed_loop, load_value, measured
from bench.loadgen import CEILING_UNARY, HEALTH_CHECK, StreamCeiling
from bench.scale import CONCURRENCY
from bench.server import ServerProcess

SCENARIO = "ceiling"


def unary(
    run: Run,
    server: ServerProcess,
    prefix: str,
    concurrency: int,
    scenario: str = SCENARIO,
    where: str = "",
) -> Measurement:
    """The empty unary RPC at ``concurrency`` in flight, recorded as ``PREFIX.unary.cN``.

    ``scenario`` and ``where`` (appended to the name) place a ceiling of a scenario's own
    server in that scenario's table.
    """
    measurement = closed_loop(
        run,
        server,
        key=f"{prefix}.unary.c{concurrency}",
        scenario=scenario,
        name=f"empty unary RPC, {concurrency} in flight{where}",
        method=CEILING_UNARY,
        requests=(b"",),
        concurrency=concurrency,
        count=run.scale.calls(run.scale.ceiling_calls, concurrency),
        ceiling=None,
    )
    run.ceilings[measurement.key] = as_ceiling(measurement)
    return measurement


def health(
    run: Run,
    server: ServerProcess,
    prefix: str,
    concurrency: int,
    scenario: str = SCENARIO,
    where: str = "",
) -> Measurement:
    """The health service's Check at ``concurrency`` in flight (``PREFIX.health.cN``)."""
    measurement = closed_loop(
        run,
        server,
        key=f"{prefix}.health.c{concurrency}",
        scenario=scenario,
        name=f"health Check, {concurrency} in flight{where}",
        method=HEALTH_CHECK,
        requests=(b"",),  # an empty HealthCheckRequest serializes to no bytes
        concurrency=concurrency,
        count=run.scale.calls(run.scale.ceiling_calls, concurrency),
        ceiling=f"{prefix}.unary.c{concurrency}",
    )
    run.ceilings[measurement.key] = as_ceiling(measurement)
    return measurement


def stream(
    run: Run, server: ServerProcess, prefix: str, scenario: str = SCENARIO, where: str = ""
) -> Measurement:
    """One server stream of small payloads: messages per second (``PREFIX.stream``)."""
    scale = run.scale
    job = StreamCeiling(
        address=server.address,
        messages=scale.stream_messages,
        calls=scale.stream_calls,
        warmup_messages=min(scale.stream_messages, 5000),
        root_certificates=server.root_certificates,
    )
    result, side = measured(run, server, job)
    value = load_value(result, side, messages_per_call=scale.stream_messages)
    value["gap_us"] = {k: round(v * 1e3, 2) for k, v in value.pop("latency_ms").items()}
    measurement = Measurement(
        key=f"{prefix}.stream",
        scenario=scenario,
        name=f"empty server stream, 32-byte messages{where}",
        value=value,
        server=None,
        hist=result.hist,
        note="throughput counts streamed messages; gap_us is the time between messages",
    )
    run.add(measurement)
    run.ceilings[measurement.key] = as_ceiling(measurement)
    return measurement


def measure_all(
    run: Run,
    server: ServerProcess,
    prefix: str = "ceiling",
    levels: Sequence[int] = CONCURRENCY,
    health_levels: Sequence[int] = (1, 64),
    with_stream: bool = True,
    scenario: str = SCENARIO,
    where: str = "",
) -> None:
    """The unary ceiling at each level, health Check at ``health_levels``, and the stream."""
    for concurrency in levels:
        unary(run, server, prefix, concurrency, scenario, where)
    for concurrency in health_levels:
        health(run, server, prefix, concurrency, scenario, where)
    if with_stream:
        stream(run, server, prefix, scenario, where)
