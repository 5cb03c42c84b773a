"""PNG plots of a run: latency CDFs and throughput against concurrency (needs matplotlib)."""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from bench.core import Measurement, Run
from bench.scale import CONCURRENCY


def _find(run: Run, key: str) -> Measurement | None:
    return next((m for m in run.measurements if m.key == key), None)


def _cdf(
    folder: pathlib.Path,
    run: Run,
    name: str,
    title: str,
    keys: Sequence[str],
    dashed: Sequence[str] = (),
) -> str | None:
    """Latency CDFs of ``keys`` (ceilings in ``dashed``); None when none has data."""
    found = [m for m in (_find(run, k) for k in (*keys, *dashed)) if m and m.hist and m.hist.count]
    if not found:
        return None
    fig, ax = plt.subplots(figsize=(8, 5))
    for m in found:
        assert m.hist is not None
        points = m.hist.cdf()
        style = "--" if m.key in dashed else "-"
        ax.step(
            [p[0] for p in points], [p[1] * 100 for p in points], style, where="post", label=m.name
        )
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log scale)")
    ax.set_ylabel("percent of calls at or below")
    ax.set_ylim(0, 100.5)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _throughput(folder: pathlib.Path, run: Run) -> str | None:
    series = {
        "empty unary RPC (ceiling)": "ceiling.unary.c{}",
        "health Check": "ceiling.health.c{}",
        "send, 1 recipient": "s1.send.c{}",
        "send, 10 recipients": "s1.send10.c{}",
    }
    fig, ax = plt.subplots(figsize=(8, 5))
    drawn = False
    for label, pattern in series.items():
        points = [
            (level, m.value["throughput"])
            for level in CONCURRENCY
            if (m := _find(run, pattern.format(level))) is not None
        ]
        if points:
            drawn = True
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(CONCURRENCY), [str(level) for level in CONCURRENCY])
    ax.set_xlabel("calls in flight")
    ax.set_ylabel("calls per second")
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title("Throughput vs concurrency (same server, same client setup)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "throughput_vs_concurrency.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _uvloop(folder: pathlib.Path, run: Run) -> str | None:
    keys = ["ceiling.unary.c1", "ceiling.unary.c64", "ceiling.stream", "send.c1", "send.c64"]
    labels, on, off = [], [], []
    for key in keys:
        a, b = _find(run, f"uvloop.on.{key}"), _find(run, f"uvloop.off.{key}")
        if a and b:
            labels.append(key.replace("ceiling.", "empty "))
            on.append(a.value["throughput"])
            off.append(b.value["throughput"])
    if not labels:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    xs = range(len(labels))
    ax.bar([x - 0.2 for x in xs], on, 0.4, label="uvloop on")
    ax.bar([x + 0.2 for x in xs], off, 0.4, label="uvloop off")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("per second (log scale)")
    ax.set_title("Server event loop: uvloop on vs off")
    ax.legend()
    fig.tight_layout()
    name = "uvloop.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def _scaleout(folder: pathlib.Path, run: Run) -> str | None:
    """Sends/s against server processes on PostgreSQL, with SQLite and the ceiling as lines."""
    pg = [(n, _find(run, f"scaleout.pg.p{n}")) for n in (1, 2, 3)]
    points = [(n, m.value["throughput"]) for n, m in pg if m is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot([n for n, _ in points], [rate for _, rate in points], "o-", label="PostgreSQL")
    for key, label, style in (
        ("scaleout.sqlite.p1", "SQLite, 1 process", "--"),
        ("scaleout.ceiling", "empty unary RPC, 1 process", ":"),
    ):
        found = _find(run, key)
        if found is not None:
            ax.axhline(found.value["throughput"], linestyle=style, color="grey", label=label)
    ax.set_xlabel("server processes on one database")
    ax.set_ylabel("durable sends per second")
    ax.set_xticks([n for n, _ in points])
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.set_title("Scale-out: sends/s by server processes (16 in flight per process)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    name = "scaleout.png"
    fig.savefig(folder / name, dpi=110)
    plt.close(fig)
    return name


def draw(folder: pathlib.Path, run: Run) -> list[str]:
    """Draw every plot the run has data for; returns the file names."""
    small, big = run.scale.inbox_sizes
    inbox_keys = [
        f"s2.{size}.{where}.{bodies}"
        for size in (small, big)
        for where in ("newest", "random")
        for bodies in ("nobodies", "bodies")
    ]
    rates = run.scale.delivery_rates
    names = [
        _throughput(folder, run),
        _cdf(
            folder,
            run,
            "latency_cdf_send.png",
            "Scenario 1: send latency by calls in flight (dashed: empty RPC ceiling)",
            [f"s1.send.c{c}" for c in CONCURRENCY] + ["s1.broadcast.c1"],
            [f"ceiling.unary.c{c}" for c in (1, 64)],
        ),
        _cdf(
            folder,
            run,
            "latency_cdf_inbox.png",
            "Scenario 2: inbox page of 50 (dashed: empty RPC ceiling)",
            inbox_keys,
            [f"s2.{size}.ceiling.unary.c1" for size in (small, big)],
        ),
        _cdf(
            folder,
            run,
            "latency_cdf_delivery.png",
            "Scenario 4: delivery (send -> subscriber) vs send latency at offered rates",
            [f"s4.{kind}.r{rate:g}" for rate in rates for kind in ("delivery", "send")],
            [f"s4.ceiling.unary.r{rate:g}" for rate in rates],
        ),
        _cdf(
            folder,
            run,
            "latency_cdf_mixed.png",
            "Scenario 6: mixed workload by operation",
            ["s6.send", "s6.list_inbox", "s6.mark_read", "s6.get_message", "s6.delivery"],
            [f"ceiling.unary.c{run.scale.mixed_agents}"],
        ),
        _uvloop(folder, run),
        _cdf(
            folder,
            run,
            "latency_cdf_bulk.png",
            "Bulk: SendMessages latency per call by messages per call (dashed: empty RPC)",
            ["bulk.unary.c8", *(f"bulk.n{n}.c8" for n in (1, 8, 64, 256))],
            ["bulk.ceiling.c8"],
        ),
        _scaleout(folder, run),
    ]
    return [name for name in names if name]
