"""The read ladder tool runs end to end on a tiny corpus and reports every rung of every ladder.

Only the shape is checked, never a timing. (No ``__init__.py`` here: see test_bench_quick.)
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_read_ladder_reports_each_rung_of_each_ladder(tmp_path: pathlib.Path) -> None:
    out = tmp_path / "ladder.json"
    arguments = ["--messages", "300", "--calls", "5", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.read_ladder", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"read_ladder failed:\n{done.stdout}\n{done.stderr}"
    result = json.loads(out.read_text())
    assert result["messages"] == 300 and result["auth"] > 0
    inbox_rungs = ["sql", "storage", "service", "servicer", "serialize"]
    for view in ("bodies", "envelopes"):
        assert [r["rung"] for r in result["inbox"][view]["ladder"]] == inbox_rungs
    assert len(result["search"]) == 4
    for ladder in result["search"].values():
        assert [r["rung"] for r in ladder] == inbox_rungs[1:]
        assert all(r["cpu_us"] > 0 for r in ladder)
    assert "| rung | CPU µs/call | step µs |" in done.stdout
