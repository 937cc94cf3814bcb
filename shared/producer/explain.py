"""`explain`: the next run times of an endpoint and why, from the governor alone (no writes)."""

from __future__ import annotations

from datetime import datetime

from cronicorn.core.errors import InvalidInput
from cronicorn.core.governor import EndpointState, plan_next_run, settle_after_run
from cronicorn.core.model import JobStatus, PlanSource
from cronicorn.producer.records import Endpoint, PlannedRun
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import STATE_COLUMNS

MAX_N = 100


def state_of(endpoint: Endpoint) -> EndpointState:
    """The governor's view of an endpoint record."""
    return EndpointState(**{name: getattr(endpoint, name) for name in STATE_COLUMNS})


def explain(
    endpoint: Endpoint, now: datetime, n: int = 5, *, job_status: str = JobStatus.ACTIVE.value
) -> list[PlannedRun]:
    """The next n runs assuming each succeeds: the stored next run first, then the governor's plans.

    Empty when the endpoint is not schedulable (archived, or its job paused or archived).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise InvalidInput.one("n", f"must be a whole number between 1 and {MAX_N}")
    if endpoint.archived_at is not None or job_status != JobStatus.ACTIVE.value:
        return []
    state = state_of(endpoint)
    if endpoint.next_run_at is not None and not endpoint.running:
        first = PlannedRun(endpoint.next_run_at, endpoint.next_run_source or PlanSource.BASELINE_INTERVAL.value)
    else:  # never planned, or an attempt holds the row (next_run_at is its lease): plan afresh
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


def explain_row(row: EndpointRow, now: datetime, n: int = 5) -> list[PlannedRun]:
    """`explain` for a stored endpoint, with its job's status."""
    return explain(Endpoint.from_row(row), now, n, job_status=row.job_status)
