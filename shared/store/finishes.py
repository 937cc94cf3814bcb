"""Finishing attempts: store their results and, where the claim is still theirs, plan the next runs.

One transaction per group of finished calls, checked row by row against each attempt's fencing
token. One run's storage problem never touches another's: values the database cannot hold are
made storable first (`run_results.storable`), and if the group's write still fails on its data,
each run is stored on its own, and a run that cannot be stored even then is recorded as a
failure saying why. A database that cannot be reached is the caller's to retry (the error
propagates): that is not a property of any one run.

A failed call the endpoint retries (`cronicorn.core.retries`) keeps its slot pending: the write
sets the retry's slot, attempt number and time instead of the next slot, and the failure (like
one of `runs_left`, or a backfill's move to its next slot) counts only once the slot is decided.
Whatever the response said of the next call (Retry-After, a spent rate limit's reset) is kept as
the endpoint's `not_before_at`, which every plan obeys but the ones that keep a past slot (a
backfill's, a catch-up replay: see `cronicorn.core.governor`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import Engine, Text, and_, bindparam, func
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cronicorn.core.expressions import Response
from cronicorn.core.governor import MAX_NOT_BEFORE, plan_next_run
from cronicorn.core.model import ErrorKind, PlanSource, RunStatus
from cronicorn.core.retries import Retry, failure_class, plan_retry
from cronicorn.core.retry_after import response_not_before
from cronicorn.core.settling import backfill_run, settle_after_run
from cronicorn.store.analysis_wanted import Finished as Watched
from cronicorn.store.analysis_wanted import want_analyses
from cronicorn.store.attempts import Attempt, is_current
from cronicorn.store.claims import NO_CLAIM
from cronicorn.store.dependency_edges import Finished, downstream_ids, record_upstream_results
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import (
    lock_endpoint_rows,
    plan_values,
    retry_policy_from_row,
    schedulable,
    state_from_row,
)
from cronicorn.store.run_results import RunResult, storable, unstorable, with_note
from cronicorn.store.tables import endpoints, runs

log = logging.getLogger(__name__)

_RESULT_COLUMNS = tuple(name for name in RunResult.__dataclass_fields__ if name != "status")
_NEW_NOTES = bindparam("b_notes", type_=Text)

_FINISH_RUN = (
    runs.update()
    .where(runs.c.id == bindparam("b_run"))
    .values(
        status=bindparam("b_status"),
        superseded=bindparam("b_superseded"),
        **{name: bindparam(f"b_{name}") for name in _RESULT_COLUMNS if name != "notes"},
        # Added to what the start wrote (which retry this is, of what), never replacing it.
        notes=func.coalesce(runs.c.notes + "; " + _NEW_NOTES, runs.c.notes, _NEW_NOTES),
    )
)

_PLAN_COLUMNS = (
    "failure_count",
    "last_run_at",
    "run_requested_at",
    "ai_hint_interval_ms",
    "ai_hint_next_run_at",
    "ai_hint_expires_at",
    "ai_hint_reason",
    "next_run_at",
    "next_run_source",
    # retries within a slot: the retry pending, and the target's not-before
    "retry_slot_at",
    "retry_number",
    "retry_attempt",
    "retry_reason",
    "not_before_at",
    # schedule options (issue 12): runs left, a backfill's cursor, jitter's grid slot, the end
    "runs_left",
    "backfill_next_at",
    "backfill_until",
    "grid_slot_at",
    "ended_at",
)

_SETTLE = (
    endpoints.update()
    .where(and_(endpoints.c.id == bindparam("b_id"), endpoints.c.fence == bindparam("b_fence")))
    .values(**NO_CLAIM, **{name: bindparam(f"b_{name}") for name in _PLAN_COLUMNS})
)

LATE_NOTE = (
    "stored after its lease had ended (the worker was frozen, or the database unreachable, when the "
    "call completed): this is what the call returned, and the slot was claimed again meanwhile"
)


# PostgreSQL's "deadlock detected" and "could not serialize": the transaction lost a race and was
# rolled back; the same write succeeds when made again.
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def transient(exc: BaseException) -> bool:
    """Whether the write lost a race with another transaction (a deadlock, a serialization
    failure, SQLite's busy database): nothing is wrong with the database or the values, so the
    whole write is made again at once."""
    if not isinstance(exc, DBAPIError) or exc.connection_invalidated:
        return False
    orig = exc.orig
    code = getattr(orig, "pgcode", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    if code in _TRANSIENT_SQLSTATES:
        return True
    return isinstance(orig, sqlite3.OperationalError) and "database is locked" in str(orig)


def unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database could not be reached (retry the whole write)
    rather than that it refused these values (store each run on its own). A transient conflict
    (`transient`) is neither: it is retried at once, and never reported as an unreachable database."""
    if transient(exc):
        return False
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def retry_whole(exc: BaseException) -> bool:
    """Whether the whole write is to be made again (by the caller) rather than run by run."""
    return transient(exc) or unreachable(exc)


def finish_attempts(engine: Engine, done: Sequence[tuple[Attempt, RunResult]]) -> list[bool]:
    """Store results and plan next runs where the claim is still ours; True at each such index.

    An entry whose claim was superseded (fence moved on) is still stored, flagged `superseded`
    and noted, but plans nothing: a stale attempt never overwrites the schedule a newer claim
    owns. An attempt that sent nothing (`not_sent`) plans nothing either: its claim's lease has
    ended, so the slot is claimed again. A run acknowledged to the broker is stored: the caller
    acknowledges only after this returns.
    """
    if not done:
        return []
    prepared = [(attempt, storable(result), result) for attempt, result in done]
    if len(prepared) > 1:
        try:
            return _write(engine, prepared)
        except Exception as exc:
            if retry_whole(exc):
                raise
            log.warning("a group of %d results was refused (%s); storing each on its own", len(prepared), exc)
    return [flag for entry in prepared for flag in _write_alone(engine, entry)]


Entry = tuple[Attempt, RunResult, RunResult]  # the attempt, its result as stored, its result as it came


def _write_alone(engine: Engine, entry: Entry) -> list[bool]:
    """Store one run; if the database refuses its values, store the outcome without them."""
    attempt, _stored, original = entry
    try:
        return _write(engine, [entry])
    except Exception as exc:
        if retry_whole(exc):
            raise
        log.error(
            "result of run %s (endpoint %s) refused by the database: %s", attempt.run_id, attempt.endpoint_id, exc
        )
        # Planning still uses the call's own outcome: the target answered; only the record is cut.
        return _write(engine, [(attempt, unstorable(original, exc), original)])


def _write(engine: Engine, entries: Sequence[Entry]) -> list[bool]:
    current: list[bool] = []
    run_updates: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    results: list[Watched] = []  # new results: their watchers' planners look again
    decided: list[Finished] = []  # decided slots: their dependents read them
    with engine.begin() as conn:
        finishing = [a.endpoint_id for a, _, _ in entries]
        # The downstreams this finish may trigger are locked with the finishing rows, all in one
        # global order (by id): the start of a downstream locks its row before its dependency's
        # rows, and so does this, so two finishes (or a finish and a start) cannot deadlock.
        downstream = downstream_ids(conn, finishing)
        rows = lock_endpoint_rows(conn, [*finishing, *downstream])
        for attempt, stored, original in entries:
            row = rows.get(attempt.endpoint_id)
            ours = is_current(row, attempt.fence)
            current.append(ours)
            if not ours and stored.error_kind != ErrorKind.NOT_SENT.value:
                stored = with_note(stored, LATE_NOTE)
            if ours and row is not None and original.error_kind != ErrorKind.NOT_SENT.value:
                plan, retry = _settled(row, attempt, original)
                plans.append(plan)
                results.append(Watched(attempt.endpoint_id, attempt.run_id, attempt.source, row.tenant_id))
                if retry is not None:
                    stored = with_note(stored, _retry_note(retry, row.retry_max_attempts))
                else:  # the slot is decided: its downstreams read it (in this transaction)
                    decided.append(_finished(attempt, original))
            run_updates.append(
                {
                    "b_run": attempt.run_id,
                    "b_status": stored.status.value,
                    "b_superseded": not ours,
                    **{f"b_{name}": getattr(stored, name) for name in _RESULT_COLUMNS},
                }
            )
        conn.execute(_FINISH_RUN, run_updates)
        if plans:
            conn.execute(_SETTLE, plans)
        finished_at = max(original.finished_at for _, _, original in entries)
        if downstream:
            record_upstream_results(conn, decided, finished_at)
        # A new result asks for an analysis of its watchers in this same transaction: never lost.
        if results:
            want_analyses(conn, results, finished_at)
    return current


def _finished(attempt: Attempt, result: RunResult) -> Finished:
    body = result.response_body
    response = Response(status=result.status_code, headers=dict(result.response_headers or {}), body=body)
    return Finished(attempt.endpoint_id, attempt.run_id, result.status.value, response)


def _settled(row: EndpointRow, attempt: Attempt, result: RunResult) -> tuple[dict[str, Any], Retry | None]:
    """The endpoint's columns after `attempt` ended with `result`, and the retry planned, if any."""
    now = result.finished_at
    success = result.status is RunStatus.SUCCESS
    skipped = result.status is RunStatus.SKIPPED  # gated: no outcome of the target's, nothing to count or retry
    cap = MAX_NOT_BEFORE if row.max_interval_ms is None else timedelta(milliseconds=row.max_interval_ms)
    held = response_not_before(result.status_code, result.response_headers, now, max_delay=cap)
    before = state_from_row(row)
    # A backfill slot's attempts (its retries too) are the backfill's: they ignore the dates and
    # the count, and the schedule resumes from the finish, not from their past slot.
    backfill = backfill_run(before, attempt.slot, attempt.source)
    settle = partial(
        settle_after_run,
        before,
        started_at=attempt.started_at,
        now=now,
        slot=attempt.slot,
        source=attempt.source,
        not_before=held,
    )
    retry = None
    if not success and not skipped and schedulable(row):
        # The state a retry is planned from: this attempt served what it served, and counts nothing yet.
        retry = plan_retry(
            settle(success=False, final=False),
            retry_policy_from_row(row),
            now,
            failure=failure_class(result.error_kind, result.status_code),
            retries_done=attempt.retry,
            slot=attempt.slot,
            started_at=attempt.started_at,
            backfill=backfill,
        )
    # The slot is decided unless its retry is pending: only then do the failure count, runs_left
    # and a backfill's cursor move (a slot counts once, however many attempts it took).
    state = settle(success=success, final=retry is None)
    if skipped:
        state = replace(state, failure_count=before.failure_count)
    if retry is not None:
        # The slot stays pending: the retry is a time, not a slot of the grid, so it is never
        # jittered, and grid_slot_at keeps the grid slot the retried slot came from (the grid
        # goes on from it once the slot is decided). The endpoint has not ended: its slot has not.
        planned = {
            "next_run_at": retry.plan.at,
            "next_run_source": retry.plan.source.value,
            "grid_slot_at": row.grid_slot_at,
            "ended_at": None,
        }
    elif schedulable(row):
        plan = plan_next_run(state, now, after_slot=None if backfill else attempt.slot)
        planned = plan_values(plan, row, now)
    else:  # parked (job paused or archived): nothing planned, and not ended either
        planned = {"next_run_at": None, "next_run_source": None, "grid_slot_at": None, "ended_at": row.ended_at}
    values = {
        "b_id": attempt.endpoint_id,
        "b_fence": attempt.fence,
        "b_failure_count": state.failure_count,
        "b_last_run_at": state.last_run_at,
        "b_run_requested_at": state.run_requested_at,
        "b_ai_hint_interval_ms": state.ai_hint_interval_ms,
        "b_ai_hint_next_run_at": state.ai_hint_next_run_at,
        "b_ai_hint_expires_at": state.ai_hint_expires_at,
        "b_ai_hint_reason": row.ai_hint_reason if state.ai_hint_expires_at is not None else None,
        "b_runs_left": state.runs_left,
        "b_backfill_next_at": state.backfill_next_at,
        "b_backfill_until": state.backfill_until,
        **{f"b_{name}": value for name, value in planned.items()},
        # The retry keeps the slot pending as its next attempt; anything else ends the slot.
        "b_retry_slot_at": attempt.slot if retry else None,
        "b_retry_number": retry.number if retry else 0,
        "b_retry_attempt": attempt.attempt + 1 if retry else 0,
        "b_retry_reason": _failure_text(result) if retry else None,
        "b_not_before_at": state.not_before_at,
    }
    return values, retry


def _failure_text(result: RunResult) -> str:
    """A failure in a few words, for the notes of the retry that follows it (storable: a target's
    reason phrase may hold what no column takes)."""
    result = storable(result)
    text = result.error_message or result.error_kind or f"status {result.status_code}"
    return text if len(text) <= 200 else text[:199] + "…"


def _retry_note(retry: Retry, of: int) -> str:
    why = " (the target's Retry-After or rate-limit reset)" if retry.plan.source is PlanSource.RETRY_AFTER else ""
    return f"retry {retry.number} of {of} planned for {retry.plan.at.isoformat()}{why}"
