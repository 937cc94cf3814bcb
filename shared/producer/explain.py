"""`explain`: the next run times of an endpoint and why, from the governor alone (no writes).

It replays what the workers do: each simulated run starts on its slot (or now, if that has
passed), succeeds after `call_duration`, and the governor plans the next one from that slot.
So an interval endpoint shows its fixed-rate grid, slot + k x interval whatever the calls
take, and a call longer than its interval shows the one catch-up run it causes. A pending retry
of a failed slot comes first, noted as such, and the grid continues from the slot it retries.
"""

from __future__ import annotations

from datetime import datetime, timedelta

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
    endpoint: Endpoint,
    now: datetime,
    n: int = 5,
    *,
    job_status: str = JobStatus.ACTIVE.value,
    running_slot: datetime | None = None,
    call_duration: timedelta = timedelta(0),
) -> list[PlannedRun]:
    """The next n runs, assuming each succeeds after `call_duration`: the stored next run first,
    then the governor's plans, each with the rule that chose it.

    `running_slot` is the slot of an attempt in flight (the endpoint is `running`): the runs
    after it follow its slot. Empty when the endpoint is not schedulable (archived, or its job
    paused or archived).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_N:
        raise InvalidInput.one("n", f"must be a whole number between 1 and {MAX_N}")
    if call_duration < timedelta(0):
        raise InvalidInput.one("call_duration", "must not be negative")
    if endpoint.archived_at is not None or job_status != JobStatus.ACTIVE.value:
        return []
    state = state_of(endpoint)
    planned: list[PlannedRun] = []
    if endpoint.running and running_slot is not None:
        # The attempt in flight started on its slot at the earliest; taking that keeps a run-now
        # made during it (settling drops only requests made before the start), as the workers will.
        slot, started = running_slot, running_slot
    else:
        if endpoint.next_run_at is not None and not endpoint.running:
            source = endpoint.next_run_source or PlanSource.BASELINE_INTERVAL.value
            first = PlannedRun(endpoint.next_run_at, source, _note(endpoint, endpoint.next_run_at, source))
        else:  # never planned, or running with no slot given (next_run_at is its lease): plan afresh
            plan = plan_next_run(state, now)
            first = PlannedRun(plan.at, plan.source.value, _note(endpoint, plan.at, plan.source.value))
        planned.append(first)
        slot, started = first.at, max(first.at, now)
        if endpoint.retry_slot_at is not None and not endpoint.running:
            slot = endpoint.retry_slot_at  # a retry serves its failed slot: the grid goes on from there
    while len(planned) < n:
        finished = max(now, started + call_duration)
        state = settle_after_run(state, success=True, started_at=started, now=finished)
        plan = plan_next_run(state, finished, after_slot=slot)
        planned.append(PlannedRun(plan.at, plan.source.value))
        slot, started = plan.at, max(plan.at, finished)
    return planned


def _note(endpoint: Endpoint, at: datetime, source: str) -> str | None:
    """What the first planned run's source alone does not say: a pending retry, a target's hold."""
    if endpoint.retry_slot_at is not None and not endpoint.running:
        after = f", after {endpoint.retry_reason}" if endpoint.retry_reason else ""
        return (
            f"retry pending at {at.isoformat()}, attempt {endpoint.retry_number + 1} of "
            f"{endpoint.retry_max_attempts + 1} of the slot {endpoint.retry_slot_at.isoformat()}{after}"
        )
    if source == PlanSource.RETRY_AFTER.value and endpoint.not_before_at is not None:
        until = endpoint.not_before_at.isoformat()
        return f"the target asked not to be called before {until} (Retry-After or rate-limit reset)"
    return None


def explain_row(row: EndpointRow, now: datetime, n: int = 5) -> list[PlannedRun]:
    """`explain` for a stored endpoint, with its job's status and the slot of an attempt in flight."""
    return explain(Endpoint.from_row(row), now, n, job_status=row.job_status, running_slot=row.claimed_slot)
