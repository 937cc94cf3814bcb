"""`explain`: the next run times of an endpoint and why, from the governor alone (no writes).

It replays what the workers do: each simulated run starts on its slot (or now, if that has
passed), succeeds after `call_duration`, and the governor plans the next one from that slot.
So an interval endpoint shows its fixed-rate grid, slot + k x interval whatever the calls
take, and a call longer than its interval shows what its `overlap` makes of the slots it covers.
Each run says what else shaped it (`PlannedRun.detail`): its jitter, the runs left of
`max_runs`, a backfill's end; and the last one says why nothing follows it when the schedule
ends there (ends_at, max_runs, a one-off). The first one also says what is pending on the
endpoint (`PlannedRun.note`): a retry of a failed slot, or the target's Retry-After. A pending
retry comes first, and the schedule goes on from the slot it retries, once that slot is decided.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from cronicorn.core.errors import InvalidInput
from cronicorn.core.governor import EndpointState, Plan, ending, plan_next_run
from cronicorn.core.model import JobStatus, PlanSource
from cronicorn.core.settling import after_slot_of, backfill_run, settle_after_run
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
    running_source: str | None = None,
    call_duration: timedelta = timedelta(0),
) -> list[PlannedRun]:
    """The next n runs, assuming each succeeds after `call_duration`: the stored next run first,
    then the governor's plans, each with the rule that chose it; fewer when the schedule ends.

    `running_slot` (and `running_source`) is the slot of an attempt in flight (the endpoint is
    `running`): the runs after it follow its slot. Empty when the endpoint is not schedulable
    (archived, or its job paused or archived) or its schedule has ended.
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
        slot, started, source = running_slot, running_slot, running_source
    else:
        first: Plan | None
        retry_slot = None if endpoint.running else endpoint.retry_slot_at
        if endpoint.next_run_at is not None and not endpoint.running:
            stored = PlanSource(endpoint.next_run_source or PlanSource.BASELINE_INTERVAL.value)
            # A pending retry is a time, not a slot of the grid: grid_slot_at (kept for the slot it
            # retries) is no jitter of it.
            first = Plan(endpoint.next_run_at, stored, None if retry_slot is not None else endpoint.grid_slot_at)
        else:  # never planned, or running with no slot given (next_run_at is its lease): plan afresh
            first = plan_next_run(state, now)
        if first is None:
            return []
        # A pending retry of a backfill's slot is the backfill's, as settling will tell.
        backfilling = retry_slot is not None and backfill_run(state, retry_slot, first.source.value)
        note = _note(endpoint, first.at, first.source.value)
        planned.append(_planned(first, state, note=note, backfill=backfilling))
        slot, started, source = first.at, max(first.at, now), first.source.value
        if retry_slot is not None:
            slot = retry_slot  # a retry serves its failed slot: the grid goes on from there
    while len(planned) < n:
        finished = max(now, started + call_duration)
        after = after_slot_of(slot, source, state)
        state = settle_after_run(state, success=True, started_at=started, now=finished, slot=slot, source=source)
        plan = plan_next_run(state, finished, after_slot=after)
        if plan is None:
            if planned:
                planned[-1] = _then_ends(planned[-1], state)
            break
        state = replace(state, grid_slot_at=plan.grid_slot)  # as the finishing write stores it
        planned.append(_planned(plan, state))
        slot, started, source = plan.at, max(plan.at, finished), plan.source.value
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


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _planned(plan: Plan, state: EndpointState, *, note: str | None = None, backfill: bool = False) -> PlannedRun:
    """A plan as explained: its time and rule, and the options that shaped it (`backfill`: a
    retry of a backfill's slot, which is the backfill's as much as its first attempt)."""
    notes = []
    if plan.grid_slot is not None:
        notes.append(f"jitter +{(plan.at - plan.grid_slot).total_seconds():g} s from its slot {_iso(plan.grid_slot)}")
    if backfill or plan.source is PlanSource.BACKFILL:
        until = f" until {_iso(state.backfill_until)}" if state.backfill_until is not None else ""
        notes.append(f"backfill{until}: its own slot and Idempotency-Key")
    elif state.runs_left is not None:
        notes.append(f"{state.runs_left} of max_runs left, this one included")
    if state.starts_at is not None and state.last_run_at is None and plan.source is not PlanSource.BACKFILL:
        notes.append(f"starts_at {_iso(state.starts_at)}")
    return PlannedRun(plan.at, plan.source.value, note=note, detail="; ".join(notes) or None)


def _then_ends(last: PlannedRun, state: EndpointState) -> PlannedRun:
    """`last` noting that the schedule ends after it, and why."""
    reason = ending(state)
    if reason is None:
        reason = f"ends_at {_iso(state.ends_at)}" if state.ends_at is not None else "nothing more to plan"
    note = f"then ended: {reason}"
    return replace(last, detail=f"{last.detail}; {note}" if last.detail else note)


def explain_row(row: EndpointRow, now: datetime, n: int = 5) -> list[PlannedRun]:
    """`explain` for a stored endpoint, with its job's status and the slot of an attempt in flight."""
    return explain(
        Endpoint.from_row(row),
        now,
        n,
        job_status=row.job_status,
        running_slot=row.claimed_slot,
        running_source=row.claimed_source,
    )
