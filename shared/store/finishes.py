"""Finishing attempts: store their results and, where the claim is still theirs, plan the next runs.

One transaction per group of finished calls, checked row by row against each attempt's fencing
token. One run's storage problem never touches another's: values the database cannot hold are
made storable first (`run_results.storable`), and if the group's write still fails on its data,
each run is stored on its own, and a run that cannot be stored even then is recorded as a
failure saying why. A database that cannot be reached is the caller's to retry (the error
propagates): that is not a property of any one run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, bindparam
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from cronicorn.core.governor import plan_next_run
from cronicorn.core.model import ErrorKind, RunStatus
from cronicorn.core.settling import after_slot_of, settle_after_run
from cronicorn.store.attempts import Attempt, is_current
from cronicorn.store.endpoint_rows import EndpointRow
from cronicorn.store.replanning import lock_endpoint_rows, plan_values, schedulable, state_from_row
from cronicorn.store.run_results import RunResult, storable, unstorable, with_note
from cronicorn.store.tables import endpoints, runs

log = logging.getLogger(__name__)

_RESULT_COLUMNS = tuple(name for name in RunResult.__dataclass_fields__ if name != "status")

_FINISH_RUN = (
    runs.update()
    .where(runs.c.id == bindparam("b_run"))
    .values(
        status=bindparam("b_status"),
        superseded=bindparam("b_superseded"),
        **{name: bindparam(f"b_{name}") for name in _RESULT_COLUMNS},
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
    .values(
        claimed_slot=None,
        claimed_source=None,
        claim_attempt=0,
        claim_started_at=None,
        claim_publishes=0,
        lease_until=None,
        **{name: bindparam(f"b_{name}") for name in _PLAN_COLUMNS},
    )
)

LATE_NOTE = (
    "stored after its lease had ended (the worker was frozen, or the database unreachable, when the "
    "call completed): this is what the call returned, and the slot was claimed again meanwhile"
)


def unreachable(exc: BaseException) -> bool:
    """Whether a database error means the database could not be reached (retry the whole write)
    rather than that it refused these values (store each run on its own)."""
    if isinstance(exc, OperationalError | InterfaceError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


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
            if unreachable(exc):
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
        if unreachable(exc):
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
    with engine.begin() as conn:
        rows = lock_endpoint_rows(conn, [a.endpoint_id for a, _, _ in entries])
        for attempt, stored, original in entries:
            row = rows.get(attempt.endpoint_id)
            ours = is_current(row, attempt.fence)
            current.append(ours)
            if not ours and stored.error_kind != ErrorKind.NOT_SENT.value:
                stored = with_note(stored, LATE_NOTE)
            run_updates.append(
                {
                    "b_run": attempt.run_id,
                    "b_status": stored.status.value,
                    "b_superseded": not ours,
                    **{f"b_{name}": getattr(stored, name) for name in _RESULT_COLUMNS},
                }
            )
            if ours and row is not None and original.error_kind != ErrorKind.NOT_SENT.value:
                plans.append(_settled(row, attempt, original))
        conn.execute(_FINISH_RUN, run_updates)
        if plans:
            conn.execute(_SETTLE, plans)
    return current


def _settled(row: EndpointRow, attempt: Attempt, result: RunResult) -> dict[str, Any]:
    now = result.finished_at
    state = settle_after_run(
        state_from_row(row),
        success=result.status is RunStatus.SUCCESS,
        started_at=attempt.started_at,
        now=now,
        slot=attempt.slot,
        source=attempt.source,
    )
    if schedulable(row):
        plan = plan_next_run(state, now, after_slot=after_slot_of(attempt.slot, attempt.source))
        planned = plan_values(plan, row, now)
    else:  # parked (job paused or archived): nothing planned, and not ended either
        planned = {"next_run_at": None, "next_run_source": None, "grid_slot_at": None, "ended_at": row.ended_at}
    return {
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
    }
