"""`explain`: the next run times of an endpoint and why, from the governor alone (no writes)."""
from __future__ import annotations

from datetime import datetime

from shared.governor import plan_next_run, settle_after_run
from shared.model import PlanSource
from shared.planning import state_from_row
from shared.records import PlannedRun


def explain_row(row: object, now: datetime, n: int = 5) -> list[PlannedRun]:
    """Simulate n successful runs: the stored next run first, then what the governor would plan."""
    m = row._mapping  # type: ignore[attr-defined]
    if m["archived_at"] is not None or m["job_status"] != "active":
        return []
    state = state_from_row(row)
    if m["next_run_at"] is not None and m["claimed_slot"] is None:
        first = PlannedRun(m["next_run_at"], m["next_run_source"] or PlanSource.BASELINE_INTERVAL.value)
    else:
        plan = plan_next_run(state, now)
        first = PlannedRun(plan.at, plan.source.value)
    planned = [first]
    at = max(first.at, now)
    while len(planned) < n:
        state = settle_after_run(state, success=True, started_at=at, now=at)
        plan = plan_next_run(state, at, after_slot=at)
        planned.append(PlannedRun(plan.at, plan.source.value))
        at = plan.at
    return planned
