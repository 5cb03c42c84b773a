"""``agentmail-metrics``: scrape a server's ``/metrics`` and print per-method p50/p99.

Totals since the server started (no rates) and quantiles computed from the histogram buckets
exactly as Prometheus' ``histogram_quantile`` would, so no Prometheus server is needed.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import sys
import urllib.request
from collections.abc import Sequence
from typing import TextIO

from agentmail_server.metrics.quantiles import MethodLatency, method_latencies
from agentmail_server.version import version_line

DEFAULT_URL = "http://127.0.0.1:9464/metrics"


def scrape(url: str, timeout: float) -> str:
    """The exposition text served at ``url``.

    Raises:
        OSError: the endpoint could not be reached or answered with an error status.
        http.client.HTTPException: the endpoint does not speak HTTP.
    """
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return str(response.read().decode("utf-8"))


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e3:.3f}"


def format_table(methods: Sequence[MethodLatency]) -> str:
    """A fixed-width table: method, type, calls, errors, p50 and p99 in ms, calls by code."""
    header = ("method", "type", "calls", "errors", "p50_ms", "p99_ms", "codes")
    rows = [
        (
            f"{m.service}/{m.method}",
            m.rpc_type,
            f"{m.calls:.0f}",
            f"{m.errors:.0f}",
            _ms(m.p50),
            _ms(m.p99),
            " ".join(f"{code}={count:.0f}" for code, count in m.handled),
        )
        for m in methods
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    lines = []
    for row in (header, *rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def as_json(methods: Sequence[MethodLatency]) -> str:
    """The same figures as JSON objects (seconds; null where there were no calls)."""

    def number(value: float) -> float | None:
        return None if math.isnan(value) else value

    return json.dumps(
        [
            {
                "service": m.service,
                "method": m.method,
                "type": m.rpc_type,
                "calls": m.calls,
                "errors": m.errors,
                "codes": dict(m.handled),
                "msg_received": m.msg_received,
                "msg_sent": m.msg_sent,
                "p50_seconds": number(m.p50),
                "p99_seconds": number(m.p99),
            }
            for m in methods
        ],
        indent=2,
    )


def main(
    argv: Sequence[str] | None = None, out: TextIO | None = None, prog: str = "agentmail-metrics"
) -> int:
    """Run the command (``agentmail-metrics``, also ``agentmail-admin metrics``); returns the
    exit code (1 when the endpoint cannot be scraped or does not serve a Prometheus
    exposition)."""
    out = sys.stdout if out is None else out
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Print per-method call counts and p50/p99 latency from agentmail's /metrics.",
    )
    parser.add_argument("--version", action="version", version=version_line())
    parser.add_argument("--url", default=DEFAULT_URL, help=f"scrape URL [default {DEFAULT_URL}]")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds [default 10]")
    parser.add_argument("--all", action="store_true", help="include methods never called")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    try:
        text = scrape(args.url, args.timeout)
    except (OSError, http.client.HTTPException) as exc:
        print(f"{prog}: cannot scrape {args.url}: {exc!r}", file=sys.stderr)
        return 1
    try:
        methods = [m for m in method_latencies(text) if args.all or m.started > 0]
    except ValueError as exc:
        print(f"{prog}: {args.url} is not agentmail's /metrics: {exc}", file=sys.stderr)
        return 1
    print(as_json(methods) if args.json else format_table(methods), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
