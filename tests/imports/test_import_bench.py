"""The bench's import scenario runs end to end at the tiny scale and reports its figures beside
its references (never a timing assertion: only the shape of the results)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT


@pytest.mark.slow
def test_the_import_scenario_reports_each_figure_beside_its_reference(tmp_path):
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--scale",
            "tiny",
            "--scenarios",
            "import",
            "--no-plots",
            "--out",
            str(out),
            "--scratch",
            str(tmp_path / "scratch"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr}"
    document = json.loads((out / "latest" / "results.json").read_text())
    assert not document["skipped"]
    by_key = {m["key"]: m for m in document["measurements"]}
    assert set(by_key) == {
        "import.ceiling.seed",
        "import.ceiling.unary.c64",
        "import.first",
        "import.again",
    }
    first, again = by_key["import.first"], by_key["import.again"]
    assert first["ceiling"]["key"] == "import.ceiling.seed" and first["ratio"]["throughput"] > 0
    assert again["ceiling"]["key"] == "import.first" and again["ratio"]["throughput"] > 0
    for figure in (first, again):
        assert figure["value"]["count"] == 500
        assert figure["value"]["cpu_us_per_message"] > 0
    assert first["value"]["per_empty_rpc_c64"] > 0
    assert "Scenario import" in (out / "latest" / "results.md").read_text()
