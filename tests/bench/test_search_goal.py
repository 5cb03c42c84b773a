"""The search CPU goal of issue 19 is read at its 1,000-message corpus; other corpora are
listed beside it as reference rows, never as goals. (No ``__init__.py`` here: see
test_bench_quick.)"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import report, scale  # noqa: E402 - needs the repository root on the path
from bench.core import Measurement, Run  # noqa: E402


def _run(sizes: tuple[int, ...], tmp_path: pathlib.Path) -> Run:
    run = Run(dataclasses.replace(scale.QUICK, search_sizes=sizes), tmp_path)
    for size, cpu in zip(sizes, (2000.0, 7000.0, 9000.0), strict=False):
        for key, us in ((f"s3.{size}.ceiling.unary.c1", 500.0), (f"s3.{size}.common", cpu)):
            run.measurements.append(Measurement(key, "3", key, {"server_cpu_us_per_call": us}))
    return run


def _search_rows(run: Run) -> list[report.Goal]:
    return [g for g in report._read_goals(run) if g.goal.startswith("top-20 search")]


def test_quick_and_full_scales_seed_the_issues_corpus() -> None:
    assert report.SEARCH_GOAL_MESSAGES in scale.QUICK.search_sizes
    assert report.SEARCH_GOAL_MESSAGES in scale.FULL.search_sizes


def test_goal_is_at_1000_messages_and_10000_is_a_reference_row(tmp_path: pathlib.Path) -> None:
    goal, reference = _search_rows(_run((1_000, 10_000), tmp_path))
    assert "(1,000 messages: issue 19's comparison size)" in goal.goal
    assert (goal.measured, goal.status, goal.note) == ("4.00x", "pass", "")
    assert "(10,000 messages)" in reference.goal
    assert (reference.measured, reference.status) == ("14.00x", "info")
    assert "not a goal" in reference.note


def test_a_run_without_the_issues_corpus_says_so(tmp_path: pathlib.Path) -> None:
    (goal,) = _search_rows(_run((500,), tmp_path))
    assert "(500 messages" in goal.goal
    assert goal.note == "goal is for 1,000; this run seeded 500"
