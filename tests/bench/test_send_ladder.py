"""The send ladder tool runs end to end on a few calls and reports every rung at every level.

Only the shape is checked, never a timing (the figures are for people comparing runs). It
guards the tool against the server's wiring moving under it, which once broke it unnoticed.
(No ``__init__.py`` here: see test_bench_quick.)
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_send_ladder_reports_each_rung_at_each_level(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "ladder.json"
    arguments = ["--calls", "5", "--concurrency", "1,4", "--archive-messages", "20"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.send_ladder", *arguments, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"send_ladder failed:\n{done.stdout}\n{done.stderr}"
    rungs = json.loads(out.read_text())
    steps = ["parse", "auth", "service", "writer"]
    archive = ["archive/1", "archive/100", "archive/1000"]
    assert [r["name"] for r in rungs] == steps + steps + archive
    assert [r["concurrency"] for r in rungs[:8]] == [1] * 4 + [4] * 4
    assert all(r["cpu_us_per_call"] > 0 and r["calls"] > 0 for r in rungs)
    assert "| rung | adds | in flight |" in done.stdout
