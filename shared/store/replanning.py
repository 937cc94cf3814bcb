"""Apply the governor to stored endpoints: the one place that writes `next_run_at` outside a run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, bindparam

from cronicorn.core.governor import EndpointState, Plan, plan_next_run
from cronicorn.core.model import JobStatus, PlanSource, RetryOn
from cronicorn.core.retries import RetryPolicy
from cronicorn.store.claims import NO_RETRY, release_claims
from cronicorn.store.endpoint_rows import EndpointRow, select_endpoint_rows
from cronicorn.store.tables import endpoints

# The governor's inputs, named once: by `EndpointState`'s fields, each an `EndpointRow` field of the same name.
STATE_COLUMNS = tuple(f.name for f in fields(EndpointState))


def state_from_row(row: EndpointRow) -> EndpointState:
    """The governor's view of an endpoint row."""
    return EndpointState(**{name: getattr(row, name) for name in STATE_COLUMNS})


def retry_policy_from_row(row: EndpointRow) -> RetryPolicy:
    """The endpoint's retry settings (`cronicorn.core.retries`)."""
    known = {k.value for k in RetryOn}
    return RetryPolicy(
        max_attempts=row.retry_max_attempts,
        backoff_ms=row.retry_backoff_ms,
        backoff_max_ms=row.retry_backoff_max_ms,
        on=frozenset(RetryOn(v) for v in row.retry_on or () if v in known),
    )


def lock_endpoint_rows(conn: Connection, endpoint_ids: Sequence[str]) -> dict[str, EndpointRow]:
    """Endpoints joined with their job's status and tenant, by id, locked for update (no-op lock
    on SQLite). Rows are locked in id order, so two transactions locking overlapping sets
    cannot deadlock."""
    rows = conn.execute(_LOCK_ROWS, {"endpoint_ids": sorted(set(endpoint_ids))})
    return {row.id: row for row in map(EndpointRow.of, rows)}


# Built once, like every statement on the path of each run: building a statement (and its cache
# key) cost more CPU than executing it, and these run for every batch.
_LOCK_ROWS = (
    select_endpoint_rows()
    .where(endpoints.c.id.in_(bindparam("endpoint_ids", expanding=True)))
    .order_by(endpoints.c.id)
    .with_for_update(of=endpoints)
)


def lock_endpoint_row(conn: Connection, endpoint_id: str) -> EndpointRow | None:
    """One endpoint (see `lock_endpoint_rows`), or None."""
    return lock_endpoint_rows(conn, [endpoint_id]).get(endpoint_id)


def schedulable(row: EndpointRow) -> bool:
    return row.archived_at is None and row.job_status == JobStatus.ACTIVE.value


def plan_values(plan: Plan | None, row: EndpointRow, now: datetime) -> dict[str, Any]:
    """The columns a plan writes: the next run, why, and the slot jitter moved it from. No plan
    means the schedule ran out (ends_at, max_runs, a one-off that ran): the endpoint is ended."""
    if plan is None:
        return {"next_run_at": None, "next_run_source": None, "grid_slot_at": None, "ended_at": row.ended_at or now}
    return {
        "next_run_at": plan.at,
        "next_run_source": plan.source.value,
        "grid_slot_at": plan.grid_slot,
        "ended_at": None,
    }


def replan(conn: Connection, endpoint_id: str, now: datetime, *, mode: Literal["reset", "earlier"]) -> Plan | None:
    """Re-plan an endpoint after a change, inside the caller's transaction.

    `reset` (schedule edits, resume) writes the governor's plan, or ends the endpoint when there is
    none (and an edit that gives it one again revives it); `earlier` (hints, run-now) only ever
    moves the next run earlier. A pending retry of a failed slot survives `earlier` (the tick
    claims it sooner, still as its slot's retry, and the grid slot it came from is kept) and is
    dropped by `reset`: a change to the endpoint, a pause or a resume starts afresh from the
    governor's plan, and the failure count and runs_left stay as they were (the change, not the
    slot, decided what runs next). The target's not-before (`not_before_at`) holds either way.
    While a claim's lease runs the row is left alone: the
    attempt's finishing write re-reads the row and plans from the new state, so the change still
    takes effect the moment that attempt ends, and the claim is never disturbed. A claim whose
    lease has ended is cleared, and the change plans from a clean state.
    """
    row = lock_endpoint_row(conn, endpoint_id)
    if row is None:
        return None
    if row.claimed_slot is not None:
        if row.lease_until is not None and row.lease_until > now:
            return None
        # The claim's lease has ended (its worker died, or nobody started it): the change wins.
        # Clearing it here, fence bumped, is what keeps an endpoint whose attempt was lost while
        # it could not run (job paused, say) from staying claimed for good.
        release_claims(conn, [{"b_id": endpoint_id, "b_next": None, "b_source": None}])
        row = lock_endpoint_row(conn, endpoint_id)
        if row is None:
            return None
    if not schedulable(row):
        conn.execute(
            endpoints.update()
            .where(endpoints.c.id == endpoint_id)
            .values(next_run_at=None, next_run_source=None, **NO_RETRY)
        )
        return None
    plan = plan_next_run(state_from_row(row), now)
    current = row.next_run_at
    if mode == "earlier" and current is not None and (plan is None or current <= plan.at):
        return Plan(current, PlanSource(row.next_run_source or PlanSource.BASELINE_INTERVAL.value))
    values = plan_values(plan, row, now)
    if mode == "reset":
        values.update(NO_RETRY)
    elif row.retry_slot_at is not None:
        # The retry runs sooner but still as its slot: the slot's grid slot (jitter) is kept, so
        # the grid goes on from it once the slot is decided.
        values["grid_slot_at"] = row.grid_slot_at
    conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(**values))
    return plan
