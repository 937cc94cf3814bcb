"""Settling a finished run: the endpoint state the governor plans the next run from.

Pure, like the governor: the finishing write (`cronicorn.store.finishes`) and `explain` both call
it, so what explain shows is what the workers will do.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cronicorn.core.backfill import advance_backfill
from cronicorn.core.governor import EndpointState
from cronicorn.core.model import PlanSource


def after_slot_of(slot: datetime, source: str | None) -> datetime | None:
    """The slot the schedule continues from after a run of `slot`: none after a backfill run,
    which is not the schedule's own (the schedule resumes from the finish, as after an edit)."""
    return None if source == PlanSource.BACKFILL else slot


def settle_after_run(
    state: EndpointState,
    *,
    success: bool,
    started_at: datetime,
    now: datetime,
    slot: datetime | None = None,
    source: str | None = None,
) -> EndpointState:
    """State after a finished run of `slot` (planned by `source`): failures counted, consumed and
    expired hints dropped, one of `runs_left` taken, a backfill moved on.

    A one-shot hint or run-now request at or before the run's start has been served by it;
    dropping it here is what keeps it from causing a second run (the original's defect). A
    backfill run is not the schedule's: it moves the backfill on and touches nothing else.
    """
    if source == PlanSource.BACKFILL:
        if slot is None or slot != state.backfill_next_at:  # not the cursor's slot (a newer backfill): kept
            return replace(state, last_run_at=started_at)
        following, until = advance_backfill(state, slot)
        return replace(state, last_run_at=started_at, backfill_next_at=following, backfill_until=until)
    failure_count = 0 if success else state.failure_count + 1
    hint_interval = state.ai_hint_interval_ms
    hint_next = state.ai_hint_next_run_at
    expires = state.ai_hint_expires_at
    if expires is not None and expires <= now:
        hint_interval = hint_next = expires = None
    if hint_next is not None and hint_next <= started_at:
        hint_next = None
    if hint_interval is None and hint_next is None:
        expires = None
    requested = state.run_requested_at
    if requested is not None and requested <= started_at:
        requested = None
    return replace(
        state,
        failure_count=failure_count,
        last_run_at=started_at,
        run_requested_at=requested,
        ai_hint_interval_ms=hint_interval,
        ai_hint_next_run_at=hint_next,
        ai_hint_expires_at=expires,
        runs_left=None if state.runs_left is None else max(0, state.runs_left - 1),
    )
