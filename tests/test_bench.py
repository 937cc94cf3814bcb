"""The benchmarks stay runnable: each small enough here to finish in seconds, on the real services."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parents[1]


def run_bench(tmp_path: Path, *argv: str) -> dict:  # type: ignore[type-arg]
    env = {**os.environ, "CRONICORN_BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads((tmp_path / f"{argv[0].removeprefix('bench.')}.json").read_text())


def test_cost_per_run_counts_a_few_statements_per_run_and_every_run_succeeds(pg_engine: Engine, tmp_path: Path) -> None:
    result = run_bench(tmp_path, "bench.cost_per_run", "--runs", "60", "--executions", "0")
    tick, execute = result["rows"]
    assert tick["runs"] == 60 and execute["runs"] == 60
    # Batched: a share of a few statements per run, never the dozen-plus of one transaction per run.
    assert 0 < execute["statements_per_run"] < 3 and execute["pg_round_trips_per_run"] < 2
    assert 0 < execute["redis_round_trips_per_run"] < 0.5  # locks taken and released in one pipeline per batch
    assert result["outcomes"] == {"success": 60}


@pytest.mark.timeout(300)
def test_registration_scale_ticks_and_reports_a_ratio(pg_engine: Engine, tmp_path: Path) -> None:
    result = run_bench(tmp_path, "bench.registration", "--sizes", "100,5000", "--due-per-s", "25", "--seconds", "3")
    small, large = result["rows"]
    assert small["claimed"] == large["claimed"] == 75  # the same due work at both sizes
    assert result["tick_p50_ratio"] > 0


def test_dashboard_pages_answer_every_page_and_report_their_times(pg_engine: Engine, tmp_path: Path) -> None:
    sizes = ("--endpoints", "200", "--runs", "2000", "--edges", "40", "--repeats", "2")
    result = run_bench(tmp_path, "bench.dashboard_pages", *sizes)
    assert len(result["rows"]) == 9 and all(row["p50_ms"] > 0 for row in result["rows"])
    assert [row["page"] for row in result["rows"]][-2:-1] == ["/dependencies"]
    assert (result["endpoints"], result["runs"], result["edges"]) == (200, 2000, 40)
    # --reuse keeps what the first run seeded (same sizes): it measures again without seeding
    again = run_bench(tmp_path, "bench.dashboard_pages", *sizes, "--reuse")
    assert len(again["rows"]) == 9
