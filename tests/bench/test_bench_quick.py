"""The benchmark suite runs end to end at a tiny scale and writes complete results.

Only the shape of the results is checked, never a timing: numbers on a shared CI machine say
nothing. The folder has no ``__init__.py`` so that the repository's ``bench`` package, not this
folder, is what ``import bench`` finds.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
from typing import Any

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.hdr import Histogram  # noqa: E402 - needs the repository root on the path

LATENCY_FIELDS = {"p50", "p90", "p99", "p99.9", "max", "mean"}
ENVIRONMENT_FIELDS = {
    "date",
    "cpu_count",
    "python",
    "grpcio",
    "sqlite",
    "uvloop",
    "data_filesystem",
    "placement",
    "load_average_start",
    "load_average_end",
    "server_metrics",
}
SCALEOUT_KEYS = {
    "scaleout.ceiling",
    "scaleout.sqlite.p1",
    *(f"scaleout.pg.p{n}" for n in (1, 2, 3)),
}
EXPECTED_KEYS = {
    *(f"ceiling.unary.c{c}" for c in (1, 8, 64, 256)),
    "ceiling.health.c1",
    "ceiling.health.c64",
    "ceiling.stream",
    *(f"s1.send.c{c}" for c in (1, 8, 64, 256)),
    "s1.ceiling.fsync",
    "s1.send10.c1",
    "s1.send10.c64",
    "s1.broadcast.c1",
    "s1.broadcast.c8",
    *(
        f"s2.{size}.{where}.{bodies}"
        for size in (200, 2000)
        for where in ("newest", "random")
        for bodies in ("bodies", "nobodies")
    ),
    "s4.send.r50",
    "s4.delivery.r50",
    "s4.idle_memory",
    "s4.fanout",
    "s6.all",
    "s6.send",
    "s6.delivery",
    *(f"uvloop.{loop}.{what}" for loop in ("on", "off") for what in ("send.c1", "send.c64")),
    *(
        f"s3.500.{query}"
        for query in (
            "ceiling.unary.c1",
            "selective",
            "common",
            "common_newest",
            "phrase",
            "prefix",
        )
    ),
    *(
        f"s5.{archive}.{what}"
        for archive in ("on", "off")
        for what in ("ceiling.unary.c64", "send.c64")
    ),
    "s5.lag",
    "s5.ratio",
    *(
        f"s7.100.{what}"
        for what in (
            "ceiling.unary.c1",
            "reserve_extend",
            "reserve_conflict",
            "check1",
            "check10",
        )
    ),
    *(
        f"s8.{transport}.{what}.c{level}"
        for transport in ("tls", "plain")
        for what in ("ceiling.unary", "send")
        for level in (1, 64)
    ),
    "s8.cost",
    *(f"s9.{what}" for what in ("ceiling.unary.c1", "startup", "wake", "send")),
    *(f"bulk.{what}.c8" for what in ("ceiling", "unary", "n1", "n8", "n64", "n256")),
    *SCALEOUT_KEYS,
}


def _no_postgres_here(skipped: dict[str, str]) -> bool:
    """The scale-out scenario skipped for want of PostgreSQL, outside CI (where it must run)."""
    return "no PostgreSQL server" in skipped.get("scaleout", "") and not os.environ.get("CI")


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("bench-out")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "tiny",
            "--no-plots",
            "--out",
            str(out),
            "--scratch",
            str(tmp_path_factory.mktemp("bench-data")),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        # Scenario 9 spawns three MCP bridges (about 1.5 s of CPU each to import the SDK):
        # on a loaded two-core machine the tiny run takes several minutes.
        timeout=720,
        check=False,
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr}"
    latest = out / "latest"
    document = json.loads((latest / "results.json").read_text())
    histograms = json.loads((latest / "histograms.json").read_text())
    for measurement in document["measurements"]:
        measurement["histogram"] = histograms[measurement["key"]]
    return latest, document


@pytest.mark.slow
def test_quick_run_records_environment_and_every_scenario(
    results: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    latest, document = results
    assert document["environment"].keys() >= ENVIRONMENT_FIELDS
    keys = {m["key"] for m in document["measurements"]}
    skipped = {s["scenario"]: s["reason"] for s in document["skipped"]}
    expected = EXPECTED_KEYS
    if _no_postgres_here(skipped):
        skipped.pop("scaleout")
        expected = EXPECTED_KEYS - SCALEOUT_KEYS
    assert keys >= expected, sorted(expected - keys)
    assert not skipped, skipped
    assert (latest / "results.md").read_text().startswith("# agentmail bench")


@pytest.mark.slow
def test_each_figure_sits_beside_its_ceiling(results: tuple[pathlib.Path, dict[str, Any]]) -> None:
    _, document = results
    for m in document["measurements"]:
        if m["scenario"] in ("1", "2", "3", "7") and ".ceiling." not in m["key"]:
            assert m["ceiling"] is not None, m["key"]
            assert {"throughput", "p50", "p99"} <= m["ratio"].keys(), m["key"]
        if "latency_ms" in m["value"]:
            assert m["value"]["latency_ms"].keys() >= LATENCY_FIELDS, m["key"]
            assert m["histogram"]["count"] == sum(c for _, c in m["histogram"]["buckets"])


@pytest.mark.slow
def test_tls_scenario_puts_each_send_beside_the_ceiling_of_its_own_transport(
    results: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    _, document = results
    by_key = {m["key"]: m for m in document["measurements"]}
    for transport in ("tls", "plain"):
        for level in (1, 64):
            sent = by_key[f"s8.{transport}.send.c{level}"]
            assert sent["ceiling"]["key"] == f"s8.{transport}.ceiling.unary.c{level}"
            assert {"throughput", "p50", "p99"} <= sent["ratio"].keys()
            assert sent["value"]["count"] > 0 and "errors" not in sent["value"], sent["value"]
            for figure in (sent, by_key[f"s8.{transport}.ceiling.unary.c{level}"]):
                value = figure["value"]
                assert value["server_cpu_us_per_call"] >= 0 and value["client_cpu_us_per_call"] > 0
    cost = by_key["s8.cost"]["value"]
    for what in ("empty_rpc", "send"):
        for level in (1, 64):
            assert cost[f"{what}_c{level}_throughput_ratio"] > 0
            assert {
                f"{what}_c{level}_extra_server_cpu_us_per_call",
                f"{what}_c{level}_extra_client_cpu_us_per_call",
            } <= cost.keys()


@pytest.mark.slow
def test_mcp_scenario_times_every_wake_up_beside_the_empty_rpc(
    results: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    _, document = results
    by_key = {m["key"]: m for m in document["measurements"]}
    wake = by_key["s9.wake"]
    assert wake["value"]["count"] == 20 and "errors" not in wake["value"], wake["value"]
    assert wake["ceiling"]["key"] == "s9.ceiling.unary.c1"
    assert {"p50", "p99"} <= wake["ratio"].keys()
    assert wake["value"]["server_cpu_us_per_call"] > 0
    assert wake["value"]["bridge_cpu_us_per_call"] > 0
    # Every wake-up's send is timed beside it. (No comparison of the two: the push can reach
    # the bridge before the send's own response reaches the sender, so a wake-up may end
    # first; and a test asserts no timing.)
    assert by_key["s9.send"]["value"]["count"] == wake["value"]["count"]
    startup = by_key["s9.startup"]["value"]
    assert startup["count"] == 2 and startup["bridge_cpu_ms"]["max"] > 0


@pytest.mark.slow
def test_tls_scenario_never_writes_key_material(
    results: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    latest, _ = results
    for path in latest.iterdir():
        assert b"PRIVATE KEY" not in path.read_bytes(), path
        assert b"BEGIN CERTIFICATE" not in path.read_bytes(), path


@pytest.mark.slow
def test_archive_scenario_reports_the_repository_size(
    results: tuple[pathlib.Path, dict[str, Any]],
) -> None:
    _, document = results
    (lag,) = [m for m in document["measurements"] if m["key"] == "s5.lag"]
    assert lag["value"]["archived_messages"] > 0
    assert lag["value"]["pack_bytes"] > 0
    assert lag["value"]["pack_bytes_per_message"] == round(
        lag["value"]["pack_bytes"] / lag["value"]["archived_messages"]
    )


@pytest.mark.slow
def test_goals_are_reported_not_asserted(results: tuple[pathlib.Path, dict[str, Any]]) -> None:
    _, document = results
    assert document["goals"]
    for goal in document["goals"]:
        assert goal["status"] in ("pass", "miss", "n/a", "info"), goal


def test_histogram_percentiles_are_within_a_thousandth() -> None:
    hist = Histogram()
    hist.record_many(range(1, 100_001))  # 1 ns .. 100 us, uniform
    for pct in (50.0, 90.0, 99.0, 99.9):
        exact = pct / 100 * 100_000
        assert abs(hist.percentile(pct) - exact) <= exact / 1000 + 1
    assert hist.percentile(100) == hist.max == 100_000
    assert hist.min == 1


def test_histograms_merge_and_round_trip() -> None:
    a, b = Histogram(), Histogram()
    a.record_many([1_000, 2_000_000])
    b.record_many([5, 7_000_000_000])
    a.merge(b)
    again = Histogram.from_dict(json.loads(json.dumps(a.to_dict())))
    assert (again.count, again.min, again.max, again.total) == (4, 5, 7_000_000_000, a.total)
    assert again.percentile(50) == a.percentile(50)


@pytest.mark.slow
def test_archive_growth_reports_size_at_each_checkpoint() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.archive_growth", "--messages", "12", "--checkpoints", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"archive_growth failed:\n{done.stdout}\n{done.stderr}"
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [row["messages"] for row in rows] == [4, 8, 12]
    assert all(row["bytes"] > 0 and row["bytes_per_message"] > 0 for row in rows)
    assert "the messages took" in done.stdout.splitlines()[-1]
