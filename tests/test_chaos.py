"""The chaos suite's short run keeps the promises: `python -m bench chaos --short` (about 80 s).

Every fault kind once (kill -9 of each role, SIGSTOP of an execute worker past its lease, Redis
restart, PostgreSQL restarts fast and immediate, a frozen broker) with steering during each, on
a PostgreSQL and a Redis of the suite's own. Asserted from what the target received: never two
calls of one endpoint at once, no second call of a slot without a recorded attempt for it, no
worker process dying on its own, every active endpoint running again after the faults, no call
leaving after its attempt's lease. The full run (`python -m bench chaos`, about 8 minutes) is a
benchmark, not a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from bench.chaos import FAULTS
from bench.chaos_report import report
from bench.chaos_services import ServiceUnavailable, pg_bindir
from cronicorn.store.attempts import idempotency_key
from tests.cluster import ROOT
from tests.services import unavailable


@pytest.fixture(scope="module")
def short_run(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    """One short chaos run (about 80 s) shared by the tests below; its figures as saved."""
    try:
        pg_bindir()
    except ServiceUnavailable as exc:
        unavailable(f"the chaos suite needs PostgreSQL's programs: {exc}")
    if shutil.which("redis-server") is None:
        unavailable("the chaos suite needs redis-server")
    results = tmp_path_factory.mktemp("chaos")
    env = {**os.environ, "CRONICORN_BENCH_RESULTS": str(results), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "bench", "chaos", "--short"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=220,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    print(result.stdout)
    return json.loads((results / "chaos_short.json").read_text())  # type: ignore[no-any-return]


def explained(f: dict, *parts: str) -> str:  # type: ignore[type-arg]
    return "\n".join(f["summary"]) + "\n" + json.dumps({p: f[p] for p in parts}, indent=1, default=str)


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_under_every_fault_no_endpoint_overlaps_no_slot_is_called_unrecorded_and_no_worker_dies(
    short_run: dict,
) -> None:  # type: ignore[type-arg]
    f = short_run
    assert {fault["kind"] for fault in f["faults"]} == set(FAULTS), explained(f, "faults")
    assert f["max_in_flight"] == 1, explained(f, "overlap_examples")
    assert f["unrecorded_duplicates"] == 0, explained(f, "repeated_slot_examples")
    assert f["unexpected_exits"] == [], explained(f, "unexpected_exits")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_after_the_faults_every_active_endpoint_runs_again(short_run: dict) -> None:  # type: ignore[type-arg]
    assert short_run["lost_after_faults"] == [], explained(short_run, "lost_after_faults")


@pytest.mark.e2e
@pytest.mark.timeout(240)
def test_no_call_leaves_after_its_attempts_lease(short_run: dict) -> None:  # type: ignore[type-arg]
    assert short_run["calls_after_lease"] == 0, explained(short_run, "calls_after_lease_examples")


# --- the figures themselves, on made-up records: what counts as what ---------------------------
T0 = 1_800_000_000.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def key(endpoint: str, slot_s: float) -> str:
    return idempotency_key(endpoint, at(slot_s))


def attempt(endpoint: str, slot_s: float, n: int, status: str, started_s: float, lease_s: float = 5) -> dict:  # type: ignore[type-arg]
    return {
        "endpoint_id": endpoint,
        "scheduled_at": at(slot_s),
        "attempt": n,
        "status": status,
        "started_at": at(started_s),
        "lease_until": at(started_s + lease_s),
        "finished_at": at(started_s + 1),
        "superseded": False,
        "error_kind": None,
        "error_message": None,
    }


def figures(records: list[tuple[str, str, float, float]], runs: list[dict], **extra: object) -> dict:  # type: ignore[type-arg]
    endpoints = {"a": {"job_id": "j", "interval_s": 1}, "b": {"job_id": "j", "interval_s": 1}}
    rows = [
        {"id": e, "job_id": "j", "archived_at": None, "paused_until": None, "next_run_at": None}
        | dict.fromkeys(("next_run_source", "claimed_slot", "lease_until", "fence"))
        for e in endpoints
    ]
    args: dict = {  # type: ignore[type-arg]
        "records": [(k, "/", T0 + a, T0 + e) for k, _p, a, e in records],
        "runs": runs,
        "endpoint_rows": rows,
        "job_rows": [{"id": "j", "status": "active"}],
        "registered": endpoints,
        "faults": [],
        "exits": [],
        "steering": [],
        "last_clear": T0,
        "end": T0 + 30,
        "lease_s": 5.0,
    }
    return report(**(args | extra))


def test_a_second_call_of_a_slot_is_a_recorded_retry_only_after_an_abandoned_attempt() -> None:
    retried = [(key("a", 0), "/", 0.1, 0.2), (key("a", 0), "/", 5.5, 5.6)]
    runs = [attempt("a", 0, 1, "abandoned", 0.0), attempt("a", 0, 2, "success", 5.4)]
    f = figures(
        [*retried, (key("b", 0), "/", 0.1, 0.2), (key("b", 0), "/", 6, 6.1)], [*runs, attempt("b", 0, 1, "success", 0)]
    )
    assert (f["recorded_retries"], f["unrecorded_duplicates"], f["calls_per_slot_max"]) == (1, 1, 2)


def test_calls_of_one_endpoint_that_overlap_at_the_target_are_counted() -> None:
    calls = [(key("a", 0), "/", 0.0, 2.0), (key("a", 1), "/", 1.0, 1.5), (key("b", 0), "/", 0.0, 2.0)]
    runs = [attempt("a", 0, 1, "success", 0), attempt("a", 1, 1, "success", 1), attempt("b", 0, 1, "success", 0)]
    f = figures(calls, runs)
    assert (f["max_in_flight"], f["endpoints_with_overlap"]) == (2, 1)


def test_a_call_no_attempt_held_a_lease_for_left_after_its_lease() -> None:
    late = [(key("a", 0), "/", 5.2, 5.3)]  # its only attempt started at 0 with a 5 s lease
    f = figures(
        [*late, (key("b", 0), "/", 4.9, 5.0)], [attempt("a", 0, 1, "success", 0), attempt("b", 0, 1, "success", 0)]
    )
    assert f["calls_after_lease"] == 1 and f["calls_after_lease_examples"][0]["after_lease_s"] == 0.2


def test_an_endpoint_that_never_runs_after_the_faults_is_lost_and_one_that_runs_too_late_is_late() -> None:
    f = figures([(key("a", 8), "/", 8.0, 8.1)], [attempt("a", 8, 1, "success", 8)])  # deadline: 5 s + 1 s interval
    assert [e["endpoint"] for e in f["late_after_faults"]] == ["a"]
    assert [e["endpoint"] for e in f["lost_after_faults"]] == ["b"]
    assert f["verdict"] == {
        "max_in_flight_is_1": True,
        "no_unrecorded_duplicate": True,
        "none_lost": False,
        "none_late": False,
        "no_unexpected_exit": True,
    }
