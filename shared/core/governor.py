"""The governor: a pure function of endpoint state and `now` that picks the next run time.

"The slot" is the scheduled time of the run that just finished (`after_slot`), "its start" the
moment that run began (`last_run_at`); when nothing has run (a first plan, a re-plan after an
edit) both are `now`. What a finished run changes before the next plan is `cronicorn.core.settling`.
Rules, in order (REFERENCE.md, with the original's defects fixed):

| # | rule | next run |
|---|---|---|
| 0 | backfill | while a backfill runs, its next past slot, at once (only a pause holds it) |
| 1 | baseline interval | the next slot of the grid slot + k x interval x 2^min(failures, 5): fixed-rate |
| 1 | baseline cron | the next slot of the cron grid, on the wall clock of the endpoint's zone |
| 1 | one-off (`run_at`) | `run_at`, until a run has started at or after it; then nothing |
| 2 | hints | count only while fresh (`ai_hint_expires_at > now`) |
| 3 | fresh interval hint | replaces the baseline (cron too): grid slot + k x hint, no backoff |
| 3 | fresh one-shot hint, met dependency, run-now request | compete with the grid: the earliest wins |
| 4 | catch-up, overlap | see below; any other time in the past becomes `now` |
| 4 | jitter | a grid slot moves later by a fixed offset in [0, jitter_ms] derived from it |
| 5 | min / max | clamp into [last start + min_interval, ceiling]; max wins if they conflict |
| 5 | not-before | before the target's `not_before_at` -> it, capped by the ceiling (or a day without max) |
| 6 | spacing | never sooner than 1 s after the last run's start, whatever chose it (source kept) |
| 7 | pause | `paused_until > now` -> the pause end, but never before the floors of rules 5-6 |
| 8 | dates and count | never before `starts_at`; nothing after `ends_at`, or once `runs_left` is 0 |

The not-before is what the last response said of the next call: its Retry-After (on a 429 or 503)
or its spent rate limit's reset (`cronicorn.core.retry_after`). A retry of a failed slot is planned
by `cronicorn.core.retries` within the same bounds (`bounds`).

Retries and the schedule options (decided when the two were merged):
- A retry is the same slot, not a new one: it keeps the slot's time as the claim and the
  Idempotency-Key carry it (a jittered time included: a retry is never jittered again, and
  `grid_slot_at` is kept while it is pending, so the grid continues from the right slot), and
  the slot counts once, when it is decided (`cronicorn.core.settling`): one failure, one of
  `runs_left`. A backfill slot and a catch-up replay are retried like any slot, and a backfill
  moves on only once its slot is decided.
- A retry of a schedule slot obeys rule 8 (none after `ends_at`, none once `runs_left` is 0,
  say after an edit during the call); a backfill slot's retry ignores the dates, as rule 0 does.
- Slots that keep a past time (rule 0's backfill slots, rule 4's `catch-up` replays) are not held
  by the not-before: moving one would give it another slot and Idempotency-Key. They run one at
  a time, each after the one before it is decided, so an endpoint that retries (`retry_on` 429
  or 5xx) waits out the target on the failing slot, whose retry does obey the not-before.

"The next slot of a grid" is its first slot after the run's start. A fast call therefore keeps
the intended spacing exactly (a 15 s interval with 1 s calls runs every 15 s, not 16). Missed
slots come in two kinds (rule 4):
- slots that came due before the run started (the scheduler was down, the queue was long): the
  endpoint's `catch_up` decides. `coalesce` (the default): that one late run served them all.
  `all`: each is replayed, oldest first, as far back as `catch_up_window_ms` (a replay keeps its
  past slot and is due at once, source `catch-up`; like a backfill slot, only a pause holds it:
  min_interval and the 1 s spacing would move it off its slot, and the replays run one at a
  time anyway, each claimed when the one before it has finished). `skip`: the late run should
  not happen at all, and does not: the tick releases such a claim unrun before it is published
  (`cronicorn.core.missed_slots`), records it as missed, and plans the next slot still ahead.
- slots that fell due while the endpoint's own call was still running: its `overlap` decides.
  `skip` (the default): the next slot still ahead. `buffer_one`: one run, now, and the grid
  continues from that run. A run-now or one-shot asked for during the call is kept either way
  and runs as soon as the call ends.

Jitter: the offset is a pure function of the endpoint's id and the grid slot (`core/jitter.py`),
below the gap to the grid's next slot. The jittered time is the slot the claim, the run and the
Idempotency-Key carry; the grid slot it came from is kept beside it (`Plan.grid_slot`, stored as
`grid_slot_at`), and the grid continues from that, so jitter never accumulates.

The ceiling of rule 5 is the first slot after the start of a max_interval grid from the slot,
so a clamped-max schedule is fixed-rate too; min_interval is spacing between runs, measured
from the last start, so a run-now long after the last run is not held back by it. The 1 s
spacing of rule 6 is measured from the start too, so it only moves a grid slot when the run
started less than 1 s before it: a sub-second hint, or a 1 s interval dispatched late (that
one then runs 1 s after its start, and its grid continues from there).

Rule 8: before `starts_at`, an interval endpoint's first run is `starts_at` itself (source
`starts-at`, and its grid starts there) and a cron endpoint's is its first slot at or after it;
a plan after `ends_at` ends the endpoint (no plan: `None`). A backfill (rule 0) runs whatever the
dates and the count say: someone asked for those slots.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from cronicorn.core.jitter import jitter_offset
from cronicorn.core.model import (
    DEFAULT_CATCH_UP_WINDOW_MS,
    MAX_FAILURE_EXPONENT,
    MAX_NOT_BEFORE_MS,
    MIN_RUN_SPACING_MS,
    CatchUp,
    Overlap,
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
    dependency_due_at: datetime | None = None  # its dependency was met then (trigger): run like a run-now
    ai_hint_interval_ms: int | None = None
    ai_hint_next_run_at: datetime | None = None
    ai_hint_expires_at: datetime | None = None
    not_before_at: datetime | None = None  # the target's Retry-After or rate-limit reset, as a time
    # --- schedule options (issue 12) ---------------------------------------------------------
    id: str = ""  # seeds the jitter
    run_at: datetime | None = None
    catch_up: CatchUp = CatchUp.COALESCE  # stored as its value; read through CatchUp(...)
    catch_up_window_ms: int = DEFAULT_CATCH_UP_WINDOW_MS
    overlap: Overlap = Overlap.SKIP  # stored as its value; read through Overlap(...)
    jitter_ms: int = 0
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    runs_left: int | None = None
    backfill_next_at: datetime | None = None
    backfill_until: datetime | None = None
    grid_slot_at: datetime | None = None


@dataclass(frozen=True)
class Plan:
    at: datetime
    source: PlanSource
    grid_slot: datetime | None = None  # the schedule's slot, when jitter moved `at` from it


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
    overlap: Overlap = Overlap.SKIP,
    window: timedelta = DEFAULT_CATCH_UP_WINDOW,
) -> tuple[datetime, bool]:
    """The time to plan after the run of `slot` that started at `started_at`, now that it ended (rule 4),
    and whether that time is a slot of the grid (False: the one buffered run, now).

    Only `CatchUp.ALL` returns a time before `now`: a slot missed before the run started, to replay
    at once. `coalesce` and `skip` are the same here: the difference is whether the late run itself
    happens, which the tick decides (`cronicorn.core.missed_slots`).
    """
    first = slot_after(slot)
    if first >= now:
        return first, True
    if catch_up is CatchUp.ALL and first <= started_at:
        oldest = now - window
        replay = first if first >= oldest else slot_after(oldest - _RESOLUTION)
        if replay <= started_at:
            return replay, True
    upcoming = slot_after(max(slot, started_at))
    if upcoming >= now:
        return upcoming, True
    if overlap is Overlap.SKIP:  # fell due while the call ran: the next slot still ahead
        return slot_after(now - _RESOLUTION), True
    return now, False  # buffer_one: the slots missed during the run become one run, now


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


def _jittered(state: EndpointState, slot_after: SlotAfter, slot: datetime, source: PlanSource) -> Plan:
    """A grid slot as planned: moved by its jitter, remembering the slot it came from."""
    if state.jitter_ms <= 0:
        return Plan(slot, source)
    offset = jitter_offset(state.id, slot, jitter_ms=state.jitter_ms, gap=slot_after(slot) - slot)
    return Plan(slot + offset, source, slot) if offset else Plan(slot, source)


def grid_anchor(state: EndpointState, slot: datetime, now: datetime) -> datetime:
    """The slot of the schedule a claimed `slot` stands for: the one jitter moved it from, or itself.

    Recomputed, not trusted: `grid_slot_at` counts only if jittering it gives `slot` exactly, so a
    value left from an earlier plan (a pause's end, a run-now) never re-anchors the grid.
    """
    grid_slot = state.grid_slot_at
    if grid_slot is None or state.jitter_ms <= 0 or grid_slot > slot or state.run_at is not None:
        return slot
    slot_after, source = schedule_grid(state, now, grid_slot)
    return grid_slot if _jittered(state, slot_after, grid_slot, source).at == slot else slot


def ending(state: EndpointState) -> str | None:
    """Why the schedule is over whatever the time (no runs left, the one-off ran), or None (rule 8)."""
    if state.runs_left is not None and state.runs_left <= 0:
        return "max_runs reached"
    if state.run_at is not None and state.last_run_at is not None and state.last_run_at >= state.run_at:
        return "its one-off ran"
    return None


def plan_next_run(
    state: EndpointState,
    now: datetime,
    *,
    after_slot: datetime | None = None,
    started_at: datetime | None = None,
) -> Plan | None:
    """Next run time and why; None when the schedule is over (rule 8).

    `after_slot` is the slot that just ran: the grids continue from it. `started_at` is when it
    started (default: `last_run_at`); the tick passes `now` for a slot it skips unrun.
    """
    if state.backfill_next_at is not None:
        return _backfill(state, now, state.backfill_next_at)
    if ending(state) is not None:
        return None
    slot = now if after_slot is None else grid_anchor(state, after_slot, now)
    started = slot
    if started_at is not None:
        started = max(slot, started_at)
    elif after_slot is not None and state.last_run_at is not None:
        started = max(slot, state.last_run_at)
    scheduled = _scheduled(state, now, slot, started)
    plan = scheduled

    fresh = hints_fresh(state, now)
    if fresh and state.ai_hint_next_run_at is not None and state.ai_hint_next_run_at < plan.at:
        plan = Plan(state.ai_hint_next_run_at, PlanSource.AI_ONESHOT)
    if state.dependency_due_at is not None and state.dependency_due_at < plan.at:
        plan = Plan(state.dependency_due_at, PlanSource.DEPENDENCY)
    requested = state.run_requested_at
    if requested is not None and (
        requested < plan.at or (requested == plan.at and plan.source is PlanSource.DEPENDENCY)
    ):
        plan = Plan(requested, PlanSource.MANUAL)  # a person first, also on a tie with a dependency
    if plan is scheduled and plan.source is PlanSource.CATCH_UP:
        # A replay keeps its past slot, so it runs as that slot (its own Idempotency-Key): like a
        # backfill slot it is not moved by min_interval or the 1 s spacing, only held by a pause.
        return _within_dates(_paused(plan, state, now), state, now)
    if plan.at < now:
        plan = Plan(now, plan.source)
    return _within_dates(_guard(plan, state, now, slot=slot, started=started), state, now)


def _scheduled(state: EndpointState, now: datetime, slot: datetime, started: datetime) -> Plan:
    """Rules 1-4: what the schedule itself asks for after the run of `slot` that started at `started`."""
    if state.run_at is not None:
        return Plan(state.run_at, PlanSource.ONE_OFF)
    slot_after, source = schedule_grid(state, now, slot)
    at, on_grid = next_slot(
        slot_after,
        slot=slot,
        started_at=started,
        now=now,
        catch_up=CatchUp(state.catch_up),
        overlap=Overlap(state.overlap),
        window=timedelta(milliseconds=state.catch_up_window_ms),
    )
    if not on_grid:
        return Plan(at, source)
    return _jittered(state, slot_after, at, PlanSource.CATCH_UP if at < now else source)


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
    if state.max_interval_ms is not None and state.run_at is None:  # a one-off has no interval to cap
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


def _within_dates(plan: Plan, state: EndpointState, now: datetime) -> Plan | None:
    """Rule 8: nothing before `starts_at`, nothing after `ends_at`."""
    if state.starts_at is not None and plan.at < state.starts_at:
        plan = Plan(state.starts_at, PlanSource.STARTS_AT)
        if state.run_at is None:
            slot_after, source = schedule_grid(state, now, state.starts_at)
            if source is PlanSource.BASELINE_CRON:  # cron keeps its grid: the first slot from the start on
                plan = _jittered(state, slot_after, slot_after(state.starts_at - _RESOLUTION), source)
    if state.ends_at is not None and plan.at > state.ends_at:
        return None
    return plan


def _backfill(state: EndpointState, now: datetime, cursor: datetime) -> Plan:
    """Rule 0: the backfill's next slot, at once and keeping its past slot; only a pause holds it."""
    return _paused(Plan(cursor, PlanSource.BACKFILL), state, now)


def _paused(plan: Plan, state: EndpointState, now: datetime) -> Plan:
    """A past slot that keeps its time (a backfill or a replay), unless a pause holds it."""
    if state.paused_until is not None and state.paused_until > now:
        return Plan(state.paused_until, PlanSource.PAUSED)
    return plan
