"""Settling a finished run: the endpoint state the governor plans the next run from.

Pure, like the governor: the finishing write (`cronicorn.store.finishes`) and `explain` both call
it, so what explain shows is what the workers will do.

A slot counts once, when it is decided: a failed attempt whose retry is pending (`final=False`,
`cronicorn.core.retries`) changes neither the failure count nor `runs_left`, and a backfill's
cursor stays on its slot until then; the success or the last failure of the slot does.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from cronicorn.core.backfill import advance_backfill
from cronicorn.core.governor import EndpointState
from cronicorn.core.model import PlanSource

# What a retry of a failed slot (and the re-claim of a lost retry) runs as: the source of the
# retry's plan, not of the slot it retries.
RETRY_SOURCES = frozenset({PlanSource.RETRY.value, PlanSource.RETRY_AFTER.value})


def backfill_run(state: EndpointState, slot: datetime | None, source: str | None) -> bool:
    """Whether the run of `slot`, planned by `source`, is a backfill's, with `state` as before it settled.

    A backfill slot's first attempt has the source `backfill`; its retries have a retry's source,
    and are told by their slot: the backfill's cursor stays on a slot until that slot is decided.
    """
    if source == PlanSource.BACKFILL:
        return True
    return source in RETRY_SOURCES and slot is not None and slot == state.backfill_next_at


def after_slot_of(slot: datetime, source: str | None, state: EndpointState | None = None) -> datetime | None:
    """The slot the schedule continues from after a run of `slot`: none after a backfill run,
    which is not the schedule's own (the schedule resumes from the finish, as after an edit).
    `state` (as before the run settled) tells a backfill slot's retry; without it only the source."""
    backfill = source == PlanSource.BACKFILL if state is None else backfill_run(state, slot, source)
    return None if backfill else slot


def settle_after_run(
    state: EndpointState,
    *,
    success: bool,
    started_at: datetime,
    now: datetime,
    slot: datetime | None = None,
    source: str | None = None,
    not_before: datetime | None = None,
    final: bool = True,
) -> EndpointState:
    """State after a finished run of `slot` (planned by `source`): failures counted, consumed and
    expired hints dropped, one of `runs_left` taken, a backfill moved on.

    A one-shot hint or run-now request at or before the run's start has been served by it;
    dropping it here is what keeps it from causing a second run (the original's defect). A
    backfill run is not the schedule's: it moves the backfill on and touches nothing else.
    `not_before` is what the run's response said of the next call (None: nothing), whoever's run
    it was. A failure that is not `final` (a retry of its slot is pending) counts only once its
    slot is decided: the failure count, `runs_left` and the backfill's cursor wait for it.
    """
    if backfill_run(state, slot, source):
        if not final or slot is None or slot != state.backfill_next_at:
            # Its retry is pending (the cursor waits on the slot), or not the cursor's slot (a
            # newer backfill): the cursor is kept.
            return replace(state, last_run_at=started_at, not_before_at=not_before)
        following, until = advance_backfill(state, slot)
        return replace(
            state, last_run_at=started_at, backfill_next_at=following, backfill_until=until, not_before_at=not_before
        )
    failure_count = 0 if success else state.failure_count + (1 if final else 0)
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
    due = state.dependency_due_at
    if due is not None and due <= started_at:  # served by this run, like a run-now
        due = None
    runs_left = state.runs_left
    if runs_left is not None and final:  # a slot takes one run, once, when it is decided
        runs_left = max(0, runs_left - 1)
    return replace(
        state,
        failure_count=failure_count,
        last_run_at=started_at,
        run_requested_at=requested,
        dependency_due_at=due,
        ai_hint_interval_ms=hint_interval,
        ai_hint_next_run_at=hint_next,
        ai_hint_expires_at=expires,
        not_before_at=not_before,
        runs_left=runs_left,
    )
