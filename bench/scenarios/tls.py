"""Scenario 8: the empty RPC and durable sends over TLS, beside the same over plaintext.

Two servers run side by side, each on a data folder seeded alike: one speaking TLS with a
throwaway certificate (:mod:`bench.tls`), one plaintext (loopback, as every other scenario).
Rate limits are at the server's defaults on both (the flood guard is off, as everywhere in
the bench), so each send pays the limiter. The phases alternate between the two servers at
each level (sequential, then 64 in flight: TLS ceiling, plaintext ceiling, TLS send,
plaintext send), so drift of a shared machine weighs on both alike. Each send is compared
with the empty unary RPC at the same level on its own server (issue 14's figure: the TLS send
over the TLS ceiling); ``s8.cost`` gives TLS over plaintext for each pair, and the extra CPU
per call TLS costs the server and the client. Connections are set up (handshake included)
before the warm-up: the figures are per-call costs on a long-lived connection.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bench.core import Measurement, Run, closed_loop
from bench.loadgen import SEND
from bench.scenarios import ceiling, send
from bench.seed import Seeder
from bench.server import ServerProcess, running_server
from bench.tls import make_server_certificate

SCENARIO = "8"
TITLE = "TLS vs plaintext"
LEVELS = (1, 64)
TRANSPORTS = ("tls", "plain")
LABELS = {"tls": "TLS", "plain": "plaintext"}


def _seed(run: Run, transport: str) -> tuple[Any, list[str]]:
    data = run.data_dir(f"tls-{transport}")
    with Seeder(data) as seeder:
        team = seeder.project("/bench/tls", [f"S{i}" for i in range(max(LEVELS))] + ["R0"])
    return data, [agent.token for agent in team.agents if agent.name.startswith("S")]


def run_scenario(run: Run) -> None:
    """Measure both transports; keys ``s8.tls.*``, ``s8.plain.*`` and ``s8.cost``."""
    files = make_server_certificate(run.scratch / "tls-certificates")
    seeded = {transport: _seed(run, transport) for transport in TRANSPORTS}
    with contextlib.ExitStack() as stack:
        servers: dict[str, ServerProcess] = {}
        for transport in TRANSPORTS:
            data, _ = seeded[transport]
            tls = files if transport == "tls" else None
            server = stack.enter_context(running_server(data, cpus=run.server_cpus, tls=tls))
            run.settled(f"tls-{transport}", server)
            servers[transport] = server
        request = send.send_request(["R0"])
        for concurrency in LEVELS:
            for transport in TRANSPORTS:
                ceiling.unary(
                    run,
                    servers[transport],
                    f"s8.{transport}.ceiling",
                    concurrency,
                    scenario=SCENARIO,
                    where=f" ({LABELS[transport]})",
                )
            for transport in TRANSPORTS:
                closed_loop(
                    run,
                    servers[transport],
                    key=f"s8.{transport}.send.c{concurrency}",
                    scenario=SCENARIO,
                    name=f"{LABELS[transport]}: send, 1 recipient, {concurrency} in flight",
                    method=SEND,
                    requests=(request,),
                    tokens=seeded[transport][1][:concurrency],
                    concurrency=concurrency,
                    count=run.scale.calls(run.scale.send_calls, concurrency),
                    ceiling=f"s8.{transport}.ceiling.unary.c{concurrency}",
                    recipients=1,
                )
    run.add(_cost(run))


def _cost(run: Run) -> Measurement:
    """TLS over plaintext for each figure: throughput ratio and extra CPU per call."""
    by_key = {m.key: m.value for m in run.measurements if m.scenario == SCENARIO}
    value: dict[str, Any] = {}
    figures = (("ceiling.unary", "empty_rpc"), ("send", "send"))
    for level in LEVELS:
        for kind, name in figures:
            _compare(
                value,
                f"{name}_c{level}",
                by_key[f"s8.tls.{kind}.c{level}"],
                by_key[f"s8.plain.{kind}.c{level}"],
            )
    for level in LEVELS:
        ratios = [
            by_key[f"s8.{t}.send.c{level}"]["throughput"]
            / max(by_key[f"s8.{t}.ceiling.unary.c{level}"]["throughput"], 1e-9)
            for t in TRANSPORTS
        ]
        value[f"send_c{level}_over_own_ceiling_tls_plain"] = [round(r, 3) for r in ratios]
    return Measurement(
        key="s8.cost",
        scenario=SCENARIO,
        name="TLS cost: TLS / plaintext throughput, extra CPU µs per call with TLS",
        value=value,
        note="server CPU from /proc in 10 ms ticks: coarse for short phases",
    )


def _compare(out: dict[str, Any], label: str, tls: dict[str, Any], plain: dict[str, Any]) -> None:
    """``LABEL_throughput_ratio`` (TLS / plaintext) and ``LABEL_extra_*_cpu_us_per_call``."""
    if plain.get("throughput"):
        out[f"{label}_throughput_ratio"] = round(tls["throughput"] / plain["throughput"], 3)
    for side in ("server", "client"):
        field = f"{side}_cpu_us_per_call"
        if field in tls and field in plain:
            out[f"{label}_extra_{field}"] = round(tls[field] - plain[field], 1)
