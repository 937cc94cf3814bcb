"""The chaos suite's short run keeps the promises: `python -m bench chaos --short` (about 80 s).

Every fault kind once (kill -9 of each role, SIGSTOP of an execute worker past its lease, Redis
restart, PostgreSQL restarts fast and immediate, a frozen broker) with steering during each, on
a PostgreSQL and a Redis of the suite's own. Asserted from what the target received: never two
calls of one endpoint at once, no second call of a slot without a recorded attempt for it, every
active endpoint running again after the faults, and no worker process dying on its own. The full
run (`python -m bench chaos`, about 8 minutes) is a benchmark, not a test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.chaos import FAULTS
from bench.chaos_services import ServiceUnavailable, pg_bindir
from tests.cluster import ROOT
from tests.services import unavailable

pytestmark = pytest.mark.e2e


def figures_of_a_short_run(tmp_path: Path) -> dict:  # type: ignore[type-arg]
    try:
        pg_bindir()
    except ServiceUnavailable as exc:
        unavailable(f"the chaos suite needs PostgreSQL's programs: {exc}")
    if shutil.which("redis-server") is None:
        unavailable("the chaos suite needs redis-server")
    env = {**os.environ, "CRONICORN_BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
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
    return json.loads((tmp_path / "chaos_short.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.timeout(240)
def test_the_short_chaos_run_keeps_the_promises(tmp_path: Path) -> None:
    f = figures_of_a_short_run(tmp_path)
    summary = "\n".join(f["summary"])
    assert {fault["kind"] for fault in f["faults"]} == set(FAULTS), summary
    assert f["max_in_flight"] == 1, summary + json.dumps(f["overlap_examples"], indent=1)
    assert f["unrecorded_duplicates"] == 0, summary + json.dumps(f["repeated_slot_examples"], indent=1)
    assert f["lost_after_faults"] == [], summary + json.dumps(f["lost_after_faults"], indent=1)
    assert f["unexpected_exits"] == [], summary + json.dumps(f["unexpected_exits"], indent=1)
    assert f["calls_after_lease"] == 0, summary + json.dumps(f["calls_after_lease_examples"], indent=1)
