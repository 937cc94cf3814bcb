"""The governor: a pure function of endpoint state and `now` that picks the next run time.

Rules, in order (REFERENCE.md, with the original's defects fixed):
1. Baseline: cron -> next slot of the cron grid (in the endpoint's time zone) after the slot
   that just ran, or after `now` when nothing ran; interval -> now + interval x 2^min(failures, 5).
2. Hints count only while fresh (`ai_hint_expires_at > now`).
3. A fresh interval hint replaces the baseline (cron too) and bypasses the failure backoff.
   A fresh one-shot hint and a person's run-now request compete with it: the earliest wins.
4. A chosen time in the past becomes `now`.
5. Clamp into [floor, now + max_interval] where floor = max(now, last_run_at + min_interval):
   the minimum interval is the spacing between runs, so a run-now long after the last run is
   not held back by a whole min interval (the original measured it from `now`).
6. Pause wins last: `paused_until > now` -> the pause end, but never before the min floor: a
   short pause must not become a way around the minimum interval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from cronicorn.core.model import MAX_FAILURE_EXPONENT, PlanSource
from cronicorn.core.schedule import next_cron_after


@dataclass(frozen=True)
class EndpointState:
    """What the governor reads of an endpoint. All datetimes are aware UTC."""

    baseline_cron: str | None = None
    baseline_interval_ms: int | None = None
    timezone: str = "UTC"
    min_interval_ms: int | None = None
    max_interval_ms: int | None = None
    failure_count: int = 0
    paused_until: datetime | None = None
    last_run_at: datetime | None = None
    run_requested_at: datetime | None = None
    ai_hint_interval_ms: int | None = None
    ai_hint_next_run_at: datetime | None = None
    ai_hint_expires_at: datetime | None = None


@dataclass(frozen=True)
class Plan:
    at: datetime
    source: PlanSource


def hints_fresh(state: EndpointState, now: datetime) -> bool:
    return state.ai_hint_expires_at is not None and state.ai_hint_expires_at > now


def backoff_factor(failure_count: int) -> int:
    return int(2 ** min(max(failure_count, 0), MAX_FAILURE_EXPONENT))


def _baseline(state: EndpointState, now: datetime, after_slot: datetime | None) -> Plan:
    if state.baseline_cron is not None:
        # Anchor on the slot that ran, not on the finish time, so a slow run neither drifts
        # off the grid nor silently skips the next slot: a missed slot comes out in the past
        # and rule 4 runs it once, now (missed slots coalesce into one catch-up run).
        anchor = after_slot if after_slot is not None else now
        return Plan(next_cron_after(state.baseline_cron, state.timezone, anchor), PlanSource.BASELINE_CRON)
    if state.baseline_interval_ms is None:
        raise ValueError("endpoint has neither baseline_cron nor baseline_interval_ms")
    delay = timedelta(milliseconds=state.baseline_interval_ms * backoff_factor(state.failure_count))
    return Plan(now + delay, PlanSource.BASELINE_INTERVAL)


def plan_next_run(state: EndpointState, now: datetime, *, after_slot: datetime | None = None) -> Plan:
    """Next run time and why. `after_slot` is the slot that just ran (keeps cron on its grid)."""
    fresh = hints_fresh(state, now)
    if fresh and state.ai_hint_interval_ms is not None:
        plan = Plan(now + timedelta(milliseconds=state.ai_hint_interval_ms), PlanSource.AI_INTERVAL)
    else:
        plan = _baseline(state, now, after_slot)

    if fresh and state.ai_hint_next_run_at is not None and state.ai_hint_next_run_at < plan.at:
        plan = Plan(state.ai_hint_next_run_at, PlanSource.AI_ONESHOT)
    if state.run_requested_at is not None and state.run_requested_at < plan.at:
        plan = Plan(state.run_requested_at, PlanSource.MANUAL)

    if plan.at < now:
        plan = Plan(now, plan.source)

    floor = now
    if state.min_interval_ms is not None and state.last_run_at is not None:
        floor = max(now, state.last_run_at + timedelta(milliseconds=state.min_interval_ms))
    if plan.at < floor:
        plan = Plan(floor, PlanSource.CLAMPED_MIN)
    if state.max_interval_ms is not None:
        ceiling = now + timedelta(milliseconds=state.max_interval_ms)
        if plan.at > ceiling:  # max wins over min if they ever conflict
            plan = Plan(ceiling, PlanSource.CLAMPED_MAX)

    if state.paused_until is not None and state.paused_until > now:
        plan = Plan(max(state.paused_until, floor), PlanSource.PAUSED)
    return plan


def settle_after_run(state: EndpointState, *, success: bool, started_at: datetime, now: datetime) -> EndpointState:
    """State after a finished run: failures counted, consumed and expired hints dropped.

    A one-shot hint or run-now request at or before the run's start has been served by it;
    dropping it here is what keeps it from causing a second run (the original's defect).
    """
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
    )
