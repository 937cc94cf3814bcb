"""The governor: a pure function of endpoint state and `now` that picks the next run time.

"The slot" is the scheduled time of the run that just finished (`after_slot`), "its start" the
moment that run began (`last_run_at`); when nothing has run (a first plan, a re-plan after an
edit) both are `now`. Rules, in order (REFERENCE.md, with the original's defects fixed):

| # | rule | next run |
|---|---|---|
| 1 | baseline interval | the next slot of the grid slot + k x interval x 2^min(failures, 5): fixed-rate |
| 1 | baseline cron | the next slot of the cron grid, on the wall clock of the endpoint's zone |
| 2 | hints | count only while fresh (`ai_hint_expires_at > now`) |
| 3 | fresh interval hint | replaces the baseline (cron too): grid slot + k x hint, no backoff |
| 3 | fresh one-shot hint, run-now request | compete with the grid: the earliest wins |
| 4 | catch-up | see below; any other time in the past becomes `now` |
| 5 | min / max | clamp into [last start + min_interval, ceiling]; max wins if they conflict |
| 5 | not-before | before the target's `not_before_at` -> it, capped by the ceiling (or a day without max) |
| 6 | spacing | never sooner than 1 s after the last run's start, whatever chose it (source kept) |
| 7 | pause | `paused_until > now` -> the pause end, but never before the floors of rules 5-6 |

The not-before is what the last response said of the next call: its Retry-After (on a 429 or 503)
or its spent rate limit's reset (`cronicorn.core.retry_after`). A retry of a failed slot is planned
by `cronicorn.core.retries` within the same bounds (`bounds`).

"The next slot of a grid" is its first slot after the run's start. A fast call therefore keeps
the intended spacing exactly (a 15 s interval with 1 s calls runs every 15 s, not 16), and slots
that fell due before a late start (an outage, a retried attempt) were served by that one run.
A slot that fell due while the call was still running is missed; `catch_up` decides (rule 4):
`coalesce` (the default) runs once, now, and the grid continues from that run; `skip` waits
for the next slot still ahead; `all` replays each missed slot from the slot on, oldest first,
as far back as `catch_up_window` (a replay keeps its past slot and is due at once; one that the
1 s spacing holds back runs at the spacing floor, and the grid continues from there).

The ceiling of rule 5 is the first slot after the start of a max_interval grid from the slot,
so a clamped-max schedule is fixed-rate too; min_interval is spacing between runs, measured
from the last start, so a run-now long after the last run is not held back by it. The 1 s
spacing of rule 6 is measured from the start too, so it only moves a grid slot when the run
started less than 1 s before it: a sub-second hint, or a 1 s interval dispatched late (that
one then runs 1 s after its start, and its grid continues from there).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import partial

from cronicorn.core.model import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    MAX_FAILURE_EXPONENT,
    MAX_NOT_BEFORE_MS,
    MIN_RUN_SPACING_MS,
    CatchUp,
    PlanSource,
)
from cronicorn.core.schedule import next_cron_after

MIN_RUN_SPACING = timedelta(milliseconds=MIN_RUN_SPACING_MS)
DEFAULT_CATCH_UP_WINDOW = timedelta(milliseconds=DEFAULT_CATCH_UP_WINDOW_MS)
MAX_NOT_BEFORE = timedelta(milliseconds=MAX_NOT_BEFORE_MS)
_RESOLUTION = timedelta(microseconds=1)  # datetimes count in microseconds: "at or after t" is "after t - 1 us"

# The first slot of a schedule's grid strictly after an instant.
SlotAfter = Callable[[datetime], datetime]


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
    not_before_at: datetime | None = None  # the target's Retry-After or rate-limit reset, as a time


@dataclass(frozen=True)
class Plan:
    at: datetime
    source: PlanSource


@dataclass(frozen=True)
class Grid:
    """Fixed-rate slots every `step` from `origin`, the slot that ran (it counts as served)."""

    origin: datetime
    step: timedelta

    def after(self, t: datetime) -> datetime:
        """The first slot strictly after `t`, and never the origin itself."""
        if self.step <= timedelta(0):
            raise ValueError(f"a grid needs a positive step, got {self.step}")
        # In UTC, so the arithmetic is real time (a wall-clock zone would shift it across DST);
        # integer division of timedeltas is exact, so slots never creep.
        origin = self.origin.astimezone(UTC)
        return origin + self.step * max(1, (t - origin) // self.step + 1)


def next_slot(
    slot_after: SlotAfter,
    *,
    slot: datetime,
    started_at: datetime,
    now: datetime,
    catch_up: CatchUp = CatchUp.COALESCE,
    window: timedelta = DEFAULT_CATCH_UP_WINDOW,
) -> datetime:
    """The slot to plan after the run of `slot` that started at `started_at`, now that it ended (rule 4).

    Only `CatchUp.ALL` returns a time before `now`: a missed slot to replay at once.
    """
    if catch_up is CatchUp.ALL:
        first = slot_after(slot)
        oldest = now - window
        return first if first >= oldest else slot_after(oldest - _RESOLUTION)
    upcoming = slot_after(max(slot, started_at))
    if upcoming >= now:
        return upcoming
    if catch_up is CatchUp.SKIP:
        return slot_after(now - _RESOLUTION)
    return now  # coalesce: the slots missed during the run become one run, now


def hints_fresh(state: EndpointState, now: datetime) -> bool:
    return state.ai_hint_expires_at is not None and state.ai_hint_expires_at > now


def backoff_factor(failure_count: int) -> int:
    return int(2 ** min(max(failure_count, 0), MAX_FAILURE_EXPONENT))


def schedule_grid(state: EndpointState, now: datetime, slot: datetime) -> tuple[SlotAfter, PlanSource]:
    """The grid the next run is planned on (rules 1-3) and the source it gives."""
    if hints_fresh(state, now) and state.ai_hint_interval_ms is not None:
        return Grid(slot, timedelta(milliseconds=state.ai_hint_interval_ms)).after, PlanSource.AI_INTERVAL
    if state.baseline_cron is not None:
        return partial(next_cron_after, state.baseline_cron, state.timezone), PlanSource.BASELINE_CRON
    if state.baseline_interval_ms is None:
        raise ValueError("endpoint has neither baseline_cron nor baseline_interval_ms")
    step = timedelta(milliseconds=state.baseline_interval_ms * backoff_factor(state.failure_count))
    return Grid(slot, step).after, PlanSource.BASELINE_INTERVAL


def plan_next_run(
    state: EndpointState,
    now: datetime,
    *,
    after_slot: datetime | None = None,
    catch_up: CatchUp = CatchUp.COALESCE,
    catch_up_window: timedelta = DEFAULT_CATCH_UP_WINDOW,
) -> Plan:
    """Next run time and why. `after_slot` is the slot that just ran: the grids continue from it."""
    slot = now if after_slot is None else after_slot
    started = slot
    if after_slot is not None and state.last_run_at is not None:
        started = max(slot, state.last_run_at)
    slot_after, source = schedule_grid(state, now, slot)
    on_grid = next_slot(slot_after, slot=slot, started_at=started, now=now, catch_up=catch_up, window=catch_up_window)
    plan = Plan(on_grid, source)

    fresh = hints_fresh(state, now)
    if fresh and state.ai_hint_next_run_at is not None and state.ai_hint_next_run_at < plan.at:
        plan = Plan(state.ai_hint_next_run_at, PlanSource.AI_ONESHOT)
    if state.run_requested_at is not None and state.run_requested_at < plan.at:
        plan = Plan(state.run_requested_at, PlanSource.MANUAL)
    if plan.at < now and plan.at != on_grid:  # a grid slot in the past is a replay: it keeps its slot
        plan = Plan(now, plan.source)
    return _guard(plan, state, now, slot=slot, started=started)


@dataclass(frozen=True)
class Bounds:
    """What every plan after a run (or a re-plan) is held to: rules 5-6, as times."""

    min_floor: datetime  # not before the last start + min_interval (or now)
    ceiling: datetime | None  # not after the next slot of the max_interval grid; None without max_interval
    held: datetime | None  # not before the target's not-before, capped by the ceiling; None when none is ahead
    spacing_floor: datetime  # not before the last start + 1 s (or now)


def bounds(state: EndpointState, now: datetime, *, slot: datetime, started: datetime) -> Bounds:
    """The guardrails of a plan made at `now` after the run of `slot` that started at `started`."""
    last = state.last_run_at
    min_floor = now
    if state.min_interval_ms is not None and last is not None:
        min_floor = max(now, last + timedelta(milliseconds=state.min_interval_ms))
    ceiling = None
    if state.max_interval_ms is not None:
        ceiling = max(now, Grid(slot, timedelta(milliseconds=state.max_interval_ms)).after(started))
    held = None
    if state.not_before_at is not None and state.not_before_at > now:
        # A target cannot park an endpoint past its own guardrail: max_interval, or a day without one.
        held = min(state.not_before_at, ceiling if ceiling is not None else now + MAX_NOT_BEFORE)
    spacing_floor = now if last is None else max(now, last + MIN_RUN_SPACING)
    return Bounds(min_floor=min_floor, ceiling=ceiling, held=held, spacing_floor=spacing_floor)


def _guard(plan: Plan, state: EndpointState, now: datetime, *, slot: datetime, started: datetime) -> Plan:
    """Rules 5-7: the guardrails, the target's not-before, the 1 s spacing and the pause, applied to a chosen time."""
    b = bounds(state, now, slot=slot, started=started)
    if max(plan.at, now) < b.min_floor:
        plan = Plan(b.min_floor, PlanSource.CLAMPED_MIN)
    if b.ceiling is not None and plan.at > b.ceiling:  # max wins over min if they ever conflict
        plan = Plan(b.ceiling, PlanSource.CLAMPED_MAX)
    if b.held is not None and plan.at < b.held:  # the target asked for it: never later than the ceiling
        plan = Plan(b.held, PlanSource.RETRY_AFTER)
    # A safety margin rather than a guardrail, so it keeps the source: what chose the time still
    # chose it. It wins over max too (max is at least 1 s, so they only meet after an odd slot).
    if max(plan.at, now) < b.spacing_floor:
        plan = Plan(b.spacing_floor, plan.source)
    if state.paused_until is not None and state.paused_until > now:
        plan = Plan(max(state.paused_until, b.min_floor, b.spacing_floor, b.held or now), PlanSource.PAUSED)
    return plan


def settle_after_run(
    state: EndpointState,
    *,
    success: bool,
    started_at: datetime,
    now: datetime,
    not_before: datetime | None = None,
    final: bool = True,
) -> EndpointState:
    """State after a finished run: failures counted, consumed and expired hints dropped.

    A one-shot hint or run-now request at or before the run's start has been served by it;
    dropping it here is what keeps it from causing a second run (the original's defect).
    `not_before` is what the run's response said of the next call (None: nothing). A failure
    that is not `final` (a retry of its slot is pending) counts only once its slot is decided.
    """
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
    return replace(
        state,
        failure_count=failure_count,
        last_run_at=started_at,
        run_requested_at=requested,
        ai_hint_interval_ms=hint_interval,
        ai_hint_next_run_at=hint_next,
        ai_hint_expires_at=expires,
        not_before_at=not_before,
    )
