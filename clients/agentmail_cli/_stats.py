"""``agentmail stats``: calls, errors, rate and p50/p99 per method, from ``/metrics``."""

from __future__ import annotations

import http.client
import math
import time
import urllib.error
import urllib.request
from typing import Annotated

import typer

from ._app import JsonFlag, app, invocation
from ._exits import CliError, ExitCode
from ._metrics import MethodStats, parse_methods, rate


def scrape(url: str, timeout: float) -> dict[str, MethodStats]:
    """The per-method statistics served at ``url``.

    Raises:
        CliError: Unreachable or failing endpoint (exit 6), or not an exposition (exit 1).
    """
    request = urllib.request.Request(url, headers={"Accept": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode("utf-8")
    except (OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise CliError(
            f"cannot read metrics from {url}: {reason}",
            ExitCode.UNAVAILABLE,
            reason="METRICS_UNAVAILABLE",
        ) from None
    try:
        return parse_methods(text)
    except ValueError as exc:
        raise CliError(f"{url} is not a Prometheus exposition: {exc}", ExitCode.FAILURE) from None


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1e3:.2f}"


def _number(value: float) -> float | None:
    return None if math.isnan(value) else value


@app.command()
def stats(
    ctx: typer.Context,
    interval: Annotated[
        float,
        typer.Option(min=0, help="Seconds between the two scrapes the rates come from (0: none)."),
    ] = 1.0,
    show_all: Annotated[bool, typer.Option("--all", help="Also methods never called.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Per-method calls, errors, rate and p50/p99 latency (since the server started)."""
    inv = invocation(ctx)
    out = inv.output(as_json)
    url = inv.profile().metrics_url
    deadline = inv.timeout or 5.0
    first = scrape(url, deadline)
    latest = first
    if interval > 0:
        time.sleep(interval)
        latest = scrape(url, deadline)
    rows = [m for m in latest.values() if show_all or m.calls > 0]
    if out.as_json:
        out.json(
            {
                "url": url,
                "intervalSeconds": interval,
                "methods": [
                    {
                        "method": m.method,
                        "calls": m.calls,
                        "errors": m.errors,
                        "ratePerSecond": _number(rate(first.get(m.method), m, interval)),
                        "p50Seconds": _number(m.quantile(0.5)),
                        "p99Seconds": _number(m.quantile(0.99)),
                    }
                    for m in rows
                ],
            }
        )
        return
    out.table(
        ("method", "calls", "errors", "rate/s", "p50 ms", "p99 ms"),
        [
            (
                m.method,
                f"{m.calls:.0f}",
                f"{m.errors:.0f}",
                "-" if interval <= 0 else f"{rate(first.get(m.method), m, interval):.2f}",
                _ms(m.quantile(0.5)),
                _ms(m.quantile(0.99)),
            )
            for m in rows
        ],
    )
