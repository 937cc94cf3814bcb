"""The governor, table-driven: one row per rule of its docstring and per edge case (DST included)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronicorn.core.backfill import backfill_slots
from cronicorn.core.governor import EndpointState, Grid, Plan, ending, grid_anchor, next_slot, plan_next_run
from cronicorn.core.jitter import jitter_offset
from cronicorn.core.missed_slots import skipped_as_missed
from cronicorn.core.model import CatchUp as C
from cronicorn.core.model import Overlap as O
from cronicorn.core.model import PlanSource as S
from cronicorn.core.schedule import next_cron_after
from cronicorn.core.settings import Settings
from cronicorn.core.settling import after_slot_of, settle_after_run
from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.specs import CatchUpName, OverlapName

UTC = UTC
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)  # a Monday, on the hour, far from any DST change
MS, SEC, MIN, HOUR, DAY = timedelta(milliseconds=1), timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
FRESH = NOW + HOUR  # a hint expiry in the future
STALE = NOW  # expires == now counts as expired

I60 = EndpointState(baseline_interval_ms=60_000)
I15 = EndpointState(baseline_interval_ms=15_000)
HOURLY = EndpointState(baseline_cron="0 * * * *")


def cron(expr: str, tz: str) -> EndpointState:
    return EndpointState(baseline_cron=expr, timezone=tz)


def at(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, *, fold: int = 0) -> datetime:
    """A wall time in `tz` as UTC (fold picks the occurrence of an ambiguous time)."""
    # As UTC because PEP 495 makes an ambiguous local time compare unequal across zones.
    return datetime(year, month, day, hour, minute, tzinfo=tz, fold=fold).astimezone(UTC)


# America/New_York 2026: springs forward 03-08 02:00 EST -> 03:00 EDT (07:00 UTC), falls back
# 11-01 02:00 EDT -> 01:00 EST (06:00 UTC). Europe/Berlin: 03-29 02:00 -> 03:00 and 10-25
# 03:00 -> 02:00 (both 01:00 UTC). Australia/Lord_Howe shifts by 30 minutes: 04-05 02:00 LHDT ->
# 01:30 LHST (15:00 UTC the day before) and 10-04 02:00 -> 02:30 (15:30 UTC the day before).
ROWS = [
    # Rule 1: interval baseline with the failure backoff, 2^min(failures, 5).
    pytest.param(I60, NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="interval-baseline-runs-one-interval-after-now"),
    pytest.param(replace(I60, failure_count=1), NOW, None, Plan(NOW + 2 * MIN, S.BASELINE_INTERVAL), id="one-failure-doubles-the-interval"),
    pytest.param(replace(I60, failure_count=3), NOW, None, Plan(NOW + 8 * MIN, S.BASELINE_INTERVAL), id="three-failures-multiply-the-interval-by-8"),
    pytest.param(replace(I60, failure_count=5), NOW, None, Plan(NOW + 32 * MIN, S.BASELINE_INTERVAL), id="five-failures-multiply-the-interval-by-32"),
    pytest.param(replace(I60, failure_count=9), NOW, None, Plan(NOW + 32 * MIN, S.BASELINE_INTERVAL), id="backoff-is-capped-at-32x"),
    pytest.param(EndpointState(baseline_interval_ms=3_600_000), at(NY, 2026, 3, 8, 1, 30), None,
                 Plan(at(NY, 2026, 3, 8, 3, 30), S.BASELINE_INTERVAL), id="interval-baseline-is-real-time-across-a-dst-gap"),
    # Rule 1: an interval grid is fixed-rate: the next slot is the slot that ran plus the interval,
    # whatever the call took (the original's scheduler-timing tests: a 15 s interval, a 1 s call).
    pytest.param(replace(I15, last_run_at=NOW), NOW + SEC, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL),
                 id="fast-call-keeps-the-interval-from-the-slot-no-drift"),
    pytest.param(replace(I15, last_run_at=NOW + 800 * MS), NOW + 1800 * MS, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL),
                 id="fast-call-dispatched-late-stays-on-the-grid"),
    pytest.param(replace(I15, last_run_at=NOW), NOW + 15 * SEC, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL),
                 id="call-ending-exactly-on-the-next-slot-runs-it-on-time"),
    # Rule 4, overlap: a slot falling due while the call still runs is skipped (the default) or buffered.
    pytest.param(replace(I15, last_run_at=NOW), NOW + 20 * SEC, NOW, Plan(NOW + 30 * SEC, S.BASELINE_INTERVAL),
                 id="slow-call-overrunning-its-slot-skips-it-for-the-next-slot-ahead"),
    pytest.param(replace(I15, last_run_at=NOW), NOW + 50 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="call-overrunning-three-slots-skips-them-all"),
    pytest.param(replace(I15, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 20 * SEC, NOW, Plan(NOW + 20 * SEC, S.BASELINE_INTERVAL),
                 id="buffer-one-runs-a-slot-overrun-by-the-call-once-now"),
    pytest.param(replace(I15, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 50 * SEC, NOW, Plan(NOW + 50 * SEC, S.BASELINE_INTERVAL),
                 id="buffer-one-runs-three-overrun-slots-still-once-now"),
    pytest.param(replace(I15, last_run_at=NOW, run_requested_at=NOW + 5 * SEC), NOW + 20 * SEC, NOW, Plan(NOW + 20 * SEC, S.MANUAL),
                 id="run-now-asked-during-the-call-is-buffered-under-skip-too"),
    pytest.param(replace(I15, last_run_at=NOW, ai_hint_next_run_at=NOW + 5 * SEC, ai_hint_expires_at=FRESH), NOW + 20 * SEC, NOW,
                 Plan(NOW + 20 * SEC, S.AI_ONESHOT), id="one-shot-due-during-the-call-is-buffered-under-skip-too"),
    pytest.param(replace(I15, last_run_at=NOW), NOW + SEC, NOW - HOUR - 5 * SEC, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL),
                 id="late-start-after-an-outage-served-the-missed-slots-and-keeps-the-grids-phase"),
    pytest.param(replace(I15, last_run_at=NOW + 70 * SEC), NOW + 71 * SEC, NOW, Plan(NOW + 75 * SEC, S.BASELINE_INTERVAL),
                 id="retried-attempt-starting-after-later-slots-served-them"),
    pytest.param(replace(I15, failure_count=2, last_run_at=NOW), NOW + SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="backoff-multiplies-the-interval-from-the-slot"),
    pytest.param(replace(I15, failure_count=2, last_run_at=NOW), NOW + 25 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="slow-failure-inside-the-backed-off-interval-keeps-the-grid"),
    pytest.param(replace(I15, failure_count=1, last_run_at=NOW), NOW + 40 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="failure-overrunning-the-backed-off-interval-skips-to-its-next-slot"),
    pytest.param(replace(I15, failure_count=1, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 40 * SEC, NOW,
                 Plan(NOW + 40 * SEC, S.BASELINE_INTERVAL), id="failure-overrunning-the-backed-off-interval-with-buffer-one-runs-now"),
    pytest.param(replace(EndpointState(baseline_interval_ms=3_600_000), last_run_at=at(NY, 2026, 3, 8, 1, 30)), at(NY, 2026, 3, 8, 1, 31),
                 at(NY, 2026, 3, 8, 1, 30), Plan(at(NY, 2026, 3, 8, 3, 30), S.BASELINE_INTERVAL), id="interval-grid-is-real-time-across-a-dst-gap"),
    pytest.param(replace(EndpointState(baseline_interval_ms=3_600_000), last_run_at=at(NY, 2026, 11, 1, 1, 30)), at(NY, 2026, 11, 1, 1, 31),
                 at(NY, 2026, 11, 1, 1, 30), Plan(at(NY, 2026, 11, 1, 1, 30, fold=1), S.BASELINE_INTERVAL),
                 id="interval-grid-is-real-time-through-a-dst-fold-0130-edt-then-0130-est"),
    # Rule 1: cron baseline, on the grid of the endpoint's zone.
    pytest.param(HOURLY, NOW + 10 * MIN, None, Plan(NOW + HOUR, S.BASELINE_CRON), id="cron-baseline-is-the-next-utc-slot-after-now"),
    pytest.param(HOURLY, NOW, None, Plan(NOW + HOUR, S.BASELINE_CRON), id="cron-slot-exactly-now-moves-to-the-following-slot"),
    pytest.param(cron("0 9 * * *", "Europe/Berlin"), NOW, None, Plan(at(BERLIN, 2026, 3, 3, 9, 0), S.BASELINE_CRON),
                 id="cron-in-berlin-runs-on-the-berlin-wall-clock"),
    pytest.param(cron("0 9 * * 1-5", "America/New_York"), at(NY, 2026, 3, 6, 10, 0), None, Plan(at(NY, 2026, 3, 9, 9, 0), S.BASELINE_CRON),
                 id="cron-in-new-york-skips-the-weekend-and-keeps-0900-after-the-clocks-change"),
    pytest.param(replace(HOURLY, failure_count=4), NOW + 10 * MIN, None, Plan(NOW + HOUR, S.BASELINE_CRON), id="cron-ignores-failures-no-backoff"),
    # Rule 1: cron anchored on the slot that ran (after_slot), not on the finish time.
    pytest.param(replace(HOURLY, last_run_at=NOW), NOW + 20 * MIN, NOW, Plan(NOW + HOUR, S.BASELINE_CRON),
                 id="slow-cron-run-not-past-the-next-slot-stays-on-the-grid"),
    pytest.param(replace(HOURLY, last_run_at=NOW), NOW + 70 * MIN, NOW, Plan(NOW + 2 * HOUR, S.BASELINE_CRON),
                 id="cron-slot-overrun-by-a-slow-run-is-skipped"),
    pytest.param(replace(HOURLY, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 70 * MIN, NOW, Plan(NOW + 70 * MIN, S.BASELINE_CRON),
                 id="cron-slot-overrun-by-a-slow-run-with-buffer-one-runs-once-now"),
    pytest.param(replace(HOURLY, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 3 * HOUR + 5 * MIN, NOW,
                 Plan(NOW + 3 * HOUR + 5 * MIN, S.BASELINE_CRON), id="several-overrun-cron-slots-with-buffer-one-become-one-run"),
    pytest.param(HOURLY, NOW + 5 * MIN, NOW + 5 * MIN - 10 * SEC, Plan(NOW + HOUR, S.BASELINE_CRON),
                 id="cron-after-an-off-grid-run-returns-to-the-grid"),
    pytest.param(replace(HOURLY, last_run_at=NOW + 3 * HOUR + 5 * MIN), NOW + 3 * HOUR + 6 * MIN, NOW, Plan(NOW + 4 * HOUR, S.BASELINE_CRON),
                 id="cron-run-starting-late-after-an-outage-is-the-one-catch-up-then-the-grid"),
    # Rules 2-3: fresh hints; an interval hint replaces the baseline and bypasses the backoff.
    pytest.param(replace(I60, ai_hint_interval_ms=10_000, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 10 * SEC, S.AI_INTERVAL),
                 id="fresh-interval-hint-replaces-interval-baseline"),
    pytest.param(replace(I60, ai_hint_interval_ms=600_000, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 10 * MIN, S.AI_INTERVAL),
                 id="interval-hint-replaces-the-baseline-even-when-slower"),
    pytest.param(replace(HOURLY, ai_hint_interval_ms=300_000, ai_hint_expires_at=FRESH), NOW + 10 * MIN, None,
                 Plan(NOW + 15 * MIN, S.AI_INTERVAL), id="interval-hint-replaces-cron-baseline"),
    pytest.param(replace(HOURLY, ai_hint_interval_ms=7_200_000, ai_hint_expires_at=NOW + 3 * HOUR), NOW + 10 * MIN, None,
                 Plan(NOW + 2 * HOUR + 10 * MIN, S.AI_INTERVAL), id="interval-hint-replaces-cron-baseline-even-past-the-next-slot"),
    pytest.param(replace(I60, failure_count=5, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + 30 * SEC, S.AI_INTERVAL), id="interval-hint-bypasses-failure-backoff"),
    pytest.param(replace(I60, ai_hint_interval_ms=10_000, ai_hint_expires_at=STALE), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="hint-expiring-exactly-now-is-ignored"),
    pytest.param(replace(HOURLY, ai_hint_interval_ms=60_000, ai_hint_expires_at=NOW - SEC), NOW + 10 * MIN, None,
                 Plan(NOW + HOUR, S.BASELINE_CRON), id="expired-interval-hint-leaves-the-cron-baseline"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 5 * SEC, ai_hint_expires_at=NOW - SEC), NOW, None,
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="expired-one-shot-is-ignored"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 5 * SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="one-shot-without-an-expiry-is-never-fresh"),
    # Rule 3: one-shot and run-now compete with the baseline or the interval hint; earliest wins.
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 20 * SEC, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + 20 * SEC, S.AI_ONESHOT), id="one-shot-earlier-than-baseline-wins"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 5 * MIN, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="one-shot-later-than-baseline-loses"),
    pytest.param(replace(I60, ai_hint_interval_ms=30_000, ai_hint_next_run_at=NOW + 10 * SEC, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + 10 * SEC, S.AI_ONESHOT), id="one-shot-earlier-than-the-interval-hint-wins"),
    pytest.param(replace(I60, ai_hint_interval_ms=30_000, ai_hint_next_run_at=NOW + 50 * SEC, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + 30 * SEC, S.AI_INTERVAL), id="interval-hint-beats-a-later-one-shot"),
    pytest.param(replace(HOURLY, ai_hint_next_run_at=NOW + 5 * MIN, ai_hint_expires_at=FRESH), NOW + MIN, None,
                 Plan(NOW + 5 * MIN, S.AI_ONESHOT), id="one-shot-beats-a-later-cron-slot"),
    pytest.param(replace(I60, run_requested_at=NOW + 10 * SEC), NOW, None, Plan(NOW + 10 * SEC, S.MANUAL),
                 id="run-now-request-wins-when-earliest"),
    pytest.param(replace(I60, run_requested_at=NOW + 5 * MIN), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="run-now-request-later-than-baseline-loses"),
    pytest.param(replace(I60, run_requested_at=NOW + 5 * SEC, ai_hint_next_run_at=NOW + 10 * SEC, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + 5 * SEC, S.MANUAL), id="run-now-earlier-than-one-shot-wins"),
    pytest.param(replace(I60, run_requested_at=NOW, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW, S.MANUAL), id="run-now-beats-the-interval-hint"),
    # Rule 3: an interval hint is a fixed-rate grid from the slot too, without backoff.
    pytest.param(replace(I15, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 500 * MS, NOW,
                 Plan(NOW + 30 * SEC, S.AI_INTERVAL), id="interval-hint-is-anchored-on-the-slot-that-ran"),
    pytest.param(replace(I15, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH, failure_count=3, last_run_at=NOW), NOW + 2 * SEC, NOW,
                 Plan(NOW + 30 * SEC, S.AI_INTERVAL), id="interval-hint-grid-ignores-the-failure-backoff"),
    pytest.param(replace(I15, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 35 * SEC, NOW,
                 Plan(NOW + MIN, S.AI_INTERVAL), id="call-overrunning-the-interval-hint-skips-to-its-next-slot"),
    pytest.param(replace(I15, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH, last_run_at=NOW, overlap=O.BUFFER_ONE), NOW + 35 * SEC,
                 NOW, Plan(NOW + 35 * SEC, S.AI_INTERVAL), id="call-overrunning-the-interval-hint-with-buffer-one-runs-once-now"),
    pytest.param(replace(HOURLY, ai_hint_interval_ms=300_000, ai_hint_expires_at=FRESH, last_run_at=NOW + 10 * MIN), NOW + 10 * MIN + 3 * SEC,
                 NOW + 10 * MIN, Plan(NOW + 15 * MIN, S.AI_INTERVAL), id="interval-hint-on-a-cron-endpoint-is-anchored-on-the-slot"),
    # Rule 4: a chosen time in the past becomes now.
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - 5 * MIN, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW, S.AI_ONESHOT),
                 id="one-shot-in-the-past-runs-now"),
    pytest.param(replace(I60, run_requested_at=NOW - HOUR), NOW, None, Plan(NOW, S.MANUAL), id="run-now-request-in-the-past-runs-now"),
    pytest.param(replace(I60, dependency_due_at=NOW), NOW, None, Plan(NOW, S.DEPENDENCY), id="met-dependency-runs-now"),
    pytest.param(replace(I60, last_run_at=NOW - 100 * MS, dependency_due_at=NOW), NOW, None, Plan(NOW + 900 * MS, S.DEPENDENCY), id="met-dependency-keeps-the-spacing"),
    pytest.param(replace(I60, min_interval_ms=30_000, last_run_at=NOW - 10 * SEC, dependency_due_at=NOW), NOW, None, Plan(NOW + 20 * SEC, S.CLAMPED_MIN), id="met-dependency-held-by-min-interval"),
    pytest.param(replace(I60, paused_until=NOW + HOUR, dependency_due_at=NOW), NOW, None, Plan(NOW + HOUR, S.PAUSED), id="met-dependency-waits-for-a-pause"),
    pytest.param(replace(I60, run_requested_at=NOW + SEC, dependency_due_at=NOW + SEC), NOW, None, Plan(NOW + SEC, S.MANUAL), id="run-now-by-a-person-beats-a-met-dependency"),
    pytest.param(replace(HOURLY, run_requested_at=NOW - SEC), NOW + 30 * MIN, None, Plan(NOW + 30 * MIN, S.MANUAL),
                 id="run-now-on-a-cron-endpoint-runs-now"),
    # Rule 5: clamp into [max(now, last_run_at + min), ceiling]; the ceiling is now + max before any run.
    pytest.param(replace(I60, run_requested_at=NOW, last_run_at=NOW - 10 * SEC, min_interval_ms=30_000), NOW, None,
                 Plan(NOW + 20 * SEC, S.CLAMPED_MIN), id="min-floor-is-last-run-plus-min-not-now-plus-min"),
    pytest.param(replace(I60, run_requested_at=NOW, last_run_at=NOW - HOUR, min_interval_ms=300_000), NOW, None, Plan(NOW, S.MANUAL),
                 id="run-now-long-after-the-last-run-is-not-delayed-by-min"),
    pytest.param(replace(I60, last_run_at=NOW, min_interval_ms=300_000), NOW, None, Plan(NOW + 5 * MIN, S.CLAMPED_MIN),
                 id="min-clamps-a-faster-interval-baseline"),
    pytest.param(replace(I60, ai_hint_interval_ms=1_000, ai_hint_expires_at=FRESH, last_run_at=NOW, min_interval_ms=20_000), NOW, None,
                 Plan(NOW + 20 * SEC, S.CLAMPED_MIN), id="min-clamps-a-fast-interval-hint"),
    pytest.param(replace(HOURLY, last_run_at=NOW, min_interval_ms=4_800_000, overlap=O.BUFFER_ONE), NOW + 70 * MIN, NOW,
                 Plan(NOW + 80 * MIN, S.CLAMPED_MIN), id="min-clamps-a-buffered-cron-run"),
    pytest.param(replace(I60, last_run_at=NOW, min_interval_ms=60_000), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="plan-exactly-at-the-min-floor-keeps-its-source"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - MIN, ai_hint_expires_at=FRESH, min_interval_ms=20_000), NOW, None,
                 Plan(NOW, S.AI_ONESHOT), id="min-without-a-last-run-floors-at-now"),
    pytest.param(replace(I60, failure_count=5, max_interval_ms=600_000), NOW, None, Plan(NOW + 10 * MIN, S.CLAMPED_MAX),
                 id="max-clamps-a-long-backoff"),
    pytest.param(replace(HOURLY, max_interval_ms=900_000), NOW + MIN, None, Plan(NOW + 16 * MIN, S.CLAMPED_MAX), id="max-clamps-a-sparse-cron"),
    pytest.param(replace(I60, ai_hint_interval_ms=3_600_000, ai_hint_expires_at=FRESH, max_interval_ms=120_000), NOW, None,
                 Plan(NOW + 2 * MIN, S.CLAMPED_MAX), id="max-clamps-a-slow-interval-hint"),
    pytest.param(replace(I60, last_run_at=NOW, min_interval_ms=600_000, max_interval_ms=300_000), NOW, None,
                 Plan(NOW + 5 * MIN, S.CLAMPED_MAX), id="max-wins-over-min-when-they-conflict"),
    pytest.param(replace(I60, failure_count=5, max_interval_ms=600_000, last_run_at=NOW), NOW + 5 * SEC, NOW,
                 Plan(NOW + 10 * MIN, S.CLAMPED_MAX), id="max-ceiling-is-fixed-rate-from-the-slot-too"),
    pytest.param(replace(I15, min_interval_ms=20_000, last_run_at=NOW + 500 * MS), NOW + SEC, NOW,
                 Plan(NOW + 20500 * MS, S.CLAMPED_MIN), id="min-floor-counts-from-the-last-start-not-the-slot"),
    # Rule 5, the target's not-before (Retry-After, a spent rate limit's reset): no plan before it, capped
    # by the max ceiling, or a day from now without a max (issue 12).
    pytest.param(replace(I60, not_before_at=NOW + 5 * MIN), NOW, None, Plan(NOW + 5 * MIN, S.RETRY_AFTER),
                 id="not-before-holds-the-baseline-back"),
    pytest.param(replace(I60, not_before_at=NOW + 30 * SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="not-before-already-met-by-the-plan-changes-nothing"),
    pytest.param(replace(I60, not_before_at=NOW - SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="not-before-in-the-past-is-ignored"),
    pytest.param(replace(I60, run_requested_at=NOW, ai_hint_next_run_at=NOW, ai_hint_expires_at=FRESH,
                         not_before_at=NOW + 45 * SEC), NOW, None, Plan(NOW + 45 * SEC, S.RETRY_AFTER),
                 id="not-before-holds-back-run-now-and-one-shot-hints"),
    pytest.param(replace(I60, not_before_at=NOW + HOUR, max_interval_ms=600_000), NOW, None, Plan(NOW + 10 * MIN, S.RETRY_AFTER),
                 id="not-before-is-capped-by-the-max-interval"),
    pytest.param(replace(I60, not_before_at=NOW + 3 * DAY), NOW, None, Plan(NOW + DAY, S.RETRY_AFTER),
                 id="not-before-without-a-max-is-capped-at-a-day"),
    pytest.param(replace(I15, last_run_at=NOW, not_before_at=NOW + 40 * SEC), NOW + SEC, NOW, Plan(NOW + 40 * SEC, S.RETRY_AFTER),
                 id="not-before-moves-a-run-off-the-grid-after-a-run"),
    pytest.param(replace(I60, last_run_at=NOW, min_interval_ms=600_000, not_before_at=NOW + 5 * MIN), NOW, None,
                 Plan(NOW + 10 * MIN, S.CLAMPED_MIN), id="min-floor-later-than-the-not-before-wins"),
    pytest.param(replace(I60, paused_until=NOW + MIN, not_before_at=NOW + 10 * MIN), NOW, None, Plan(NOW + 10 * MIN, S.PAUSED),
                 id="pause-ending-before-the-not-before-waits-for-it"),
    # Rule 6: at least 1 s from the last run's start, whatever chose the time (the source is kept).
    pytest.param(replace(I15, ai_hint_interval_ms=100, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 50 * MS, NOW,
                 Plan(NOW + SEC, S.AI_INTERVAL), id="spacing-holds-a-100ms-interval-hint-to-1s"),
    pytest.param(replace(I15, ai_hint_interval_ms=100, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 500 * MS, NOW,
                 Plan(NOW + SEC, S.AI_INTERVAL), id="spacing-holds-a-catch-up-run-to-1s-after-the-start"),
    pytest.param(replace(I60, run_requested_at=NOW + 300 * MS, last_run_at=NOW), NOW + 300 * MS, None,
                 Plan(NOW + SEC, S.MANUAL), id="spacing-holds-a-run-now-right-after-a-run"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 200 * MS, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 100 * MS, None,
                 Plan(NOW + SEC, S.AI_ONESHOT), id="spacing-holds-a-one-shot-hint"),
    pytest.param(replace(I60, paused_until=NOW + 500 * MS, last_run_at=NOW), NOW + 100 * MS, None,
                 Plan(NOW + SEC, S.PAUSED), id="spacing-holds-a-pause-end"),
    pytest.param(replace(I60, run_requested_at=NOW, last_run_at=NOW - SEC), NOW, None,
                 Plan(NOW, S.MANUAL), id="spacing-is-met-1s-after-the-start"),
    pytest.param(replace(EndpointState(baseline_interval_ms=1_000), last_run_at=NOW + 300 * MS), NOW + 500 * MS, NOW,
                 Plan(NOW + 1300 * MS, S.BASELINE_INTERVAL), id="spacing-wins-over-a-1s-grid-whose-run-started-late"),
    # Rule 7: pause wins last, over everything, and means "the pause end".
    pytest.param(replace(I60, paused_until=NOW + 2 * HOUR), NOW, None, Plan(NOW + 2 * HOUR, S.PAUSED), id="pause-wins-over-the-baseline"),
    pytest.param(replace(HOURLY, paused_until=NOW + 2 * HOUR + 30 * MIN), NOW, None, Plan(NOW + 2 * HOUR + 30 * MIN, S.PAUSED),
                 id="pause-wins-over-the-cron-grid"),
    pytest.param(replace(I60, paused_until=NOW + HOUR, run_requested_at=NOW, ai_hint_next_run_at=NOW, ai_hint_interval_ms=1_000,
                         ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + HOUR, S.PAUSED), id="pause-wins-over-run-now-and-hints"),
    pytest.param(replace(I60, paused_until=NOW + HOUR, max_interval_ms=60_000), NOW, None, Plan(NOW + HOUR, S.PAUSED),
                 id="pause-wins-over-the-max-clamp"),
    # A pause ending before the min floor runs at the floor: a short pause is no way around the guardrail.
    pytest.param(replace(I60, paused_until=NOW + MIN, last_run_at=NOW, min_interval_ms=600_000), NOW, None,
                 Plan(NOW + 10 * MIN, S.PAUSED), id="pause-ending-before-the-min-floor-waits-for-the-floor"),
    pytest.param(replace(I60, paused_until=NOW + 10 * SEC), NOW, None, Plan(NOW + 10 * SEC, S.PAUSED),
                 id="pause-ending-before-the-baseline-still-sets-the-pause-end"),
    pytest.param(replace(I60, paused_until=NOW - SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="pause-that-ended-is-ignored"),
    pytest.param(replace(I60, paused_until=NOW), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="pause-ending-exactly-now-is-ignored"),
    # DST, America/New_York spring forward: gap slots run at the transition, 03:00 EDT.
    pytest.param(cron("30 2 * * *", "America/New_York"), at(NY, 2026, 3, 7, 12, 0), None, Plan(at(NY, 2026, 3, 8, 3, 0), S.BASELINE_CRON),
                 id="dst-new-york-gap-slot-0230-runs-at-0300-edt"),
    pytest.param(cron("*/15 * * * *", "America/New_York"), at(NY, 2026, 3, 8, 1, 50), None, Plan(at(NY, 2026, 3, 8, 3, 0), S.BASELINE_CRON),
                 id="dst-new-york-gap-quarter-hours-0200-to-0245-collapse-into-one-run"),
    pytest.param(cron("*/15 * * * *", "America/New_York"), at(NY, 2026, 3, 8, 3, 0), at(NY, 2026, 3, 8, 3, 0),
                 Plan(at(NY, 2026, 3, 8, 3, 15), S.BASELINE_CRON), id="dst-new-york-after-the-collapsed-run-the-grid-continues"),
    pytest.param(cron("30 2 * * *", "America/New_York"), at(NY, 2026, 3, 8, 3, 0), at(NY, 2026, 3, 8, 3, 0),
                 Plan(at(NY, 2026, 3, 9, 2, 30), S.BASELINE_CRON), id="dst-new-york-next-day-is-back-on-0230"),
    # DST, America/New_York fall back: an ambiguous slot runs at its first occurrence, once.
    pytest.param(cron("30 1 * * *", "America/New_York"), at(NY, 2026, 10, 31, 12, 0), None,
                 Plan(at(NY, 2026, 11, 1, 1, 30, fold=0), S.BASELINE_CRON), id="dst-new-york-fold-slot-0130-runs-at-its-first-occurrence"),
    pytest.param(cron("30 1 * * *", "America/New_York"), at(NY, 2026, 11, 1, 1, 30, fold=0), at(NY, 2026, 11, 1, 1, 30, fold=0),
                 Plan(at(NY, 2026, 11, 2, 1, 30), S.BASELINE_CRON), id="dst-new-york-fold-slot-does-not-run-again-in-the-repeated-hour"),
    pytest.param(cron("0 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 0, 0), at(NY, 2026, 11, 1, 0, 0),
                 Plan(at(NY, 2026, 11, 1, 1, 0, fold=0), S.BASELINE_CRON), id="dst-new-york-hourly-runs-0100-edt"),
    pytest.param(cron("0 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 1, 0, fold=0), at(NY, 2026, 11, 1, 1, 0, fold=0),
                 Plan(at(NY, 2026, 11, 1, 2, 0), S.BASELINE_CRON), id="dst-new-york-hourly-skips-the-second-pass-to-0200-est"),
    pytest.param(cron("0 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 1, 10, fold=1), None,
                 Plan(at(NY, 2026, 11, 1, 2, 0), S.BASELINE_CRON), id="dst-new-york-now-inside-the-second-pass-next-is-0200-est"),
    pytest.param(cron("*/30 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 1, 10, fold=1), None,
                 Plan(at(NY, 2026, 11, 1, 2, 0), S.BASELINE_CRON), id="dst-new-york-half-hourly-inside-the-second-pass-skips-0130-est"),
    pytest.param(cron("0 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 1, 5, fold=1), at(NY, 2026, 11, 1, 1, 0, fold=0),
                 Plan(at(NY, 2026, 11, 1, 2, 0), S.BASELINE_CRON), id="dst-new-york-slow-run-into-the-second-pass-is-not-a-catch-up"),
    # DST, Europe/Berlin.
    pytest.param(cron("30 2 * * *", "Europe/Berlin"), at(BERLIN, 2026, 3, 28, 12, 0), None, Plan(at(BERLIN, 2026, 3, 29, 3, 0), S.BASELINE_CRON),
                 id="dst-berlin-gap-slot-0230-runs-at-0300-cest"),
    pytest.param(cron("30 2 * * *", "Europe/Berlin"), at(BERLIN, 2026, 10, 24, 12, 0), None,
                 Plan(at(BERLIN, 2026, 10, 25, 2, 30, fold=0), S.BASELINE_CRON), id="dst-berlin-fold-slot-0230-runs-at-0230-cest"),
    pytest.param(cron("0 * * * *", "Europe/Berlin"), at(BERLIN, 2026, 10, 25, 2, 0, fold=0), at(BERLIN, 2026, 10, 25, 2, 0, fold=0),
                 Plan(at(BERLIN, 2026, 10, 25, 3, 0), S.BASELINE_CRON), id="dst-berlin-hourly-skips-the-second-pass-to-0300-cet"),
    # DST, Australia/Lord_Howe: a 30-minute shift.
    pytest.param(cron("15 2 * * *", "Australia/Lord_Howe"), at(LORD_HOWE, 2026, 10, 3, 12, 0), None,
                 Plan(at(LORD_HOWE, 2026, 10, 4, 2, 30), S.BASELINE_CRON), id="dst-lord-howe-half-hour-gap-slot-runs-at-0230"),
    pytest.param(cron("45 1 * * *", "Australia/Lord_Howe"), at(LORD_HOWE, 2026, 4, 4, 12, 0), None,
                 Plan(at(LORD_HOWE, 2026, 4, 5, 1, 45, fold=0), S.BASELINE_CRON), id="dst-lord-howe-half-hour-fold-slot-runs-at-its-first-occurrence"),
    pytest.param(cron("0 * * * *", "Australia/Lord_Howe"), at(LORD_HOWE, 2026, 4, 5, 1, 0), at(LORD_HOWE, 2026, 4, 5, 1, 0),
                 Plan(at(LORD_HOWE, 2026, 4, 5, 2, 0), S.BASELINE_CRON), id="dst-lord-howe-hourly-0100-to-0200-is-ninety-real-minutes"),
    # Rule 0: a backfill's cursor runs first, at once, keeping its past slot; only a pause holds it.
    pytest.param(replace(I60, backfill_next_at=NOW - HOUR, backfill_until=NOW), NOW, None, Plan(NOW - HOUR, S.BACKFILL),
                 id="backfill-runs-its-past-slot-at-once-keeping-it"),
    pytest.param(replace(I60, backfill_next_at=NOW - HOUR, backfill_until=NOW, run_requested_at=NOW - MIN, last_run_at=NOW - 100 * MS,
                         min_interval_ms=600_000), NOW, None, Plan(NOW - HOUR, S.BACKFILL), id="backfill-goes-before-run-now-and-is-not-spaced"),
    pytest.param(replace(I60, backfill_next_at=NOW - HOUR, backfill_until=NOW, paused_until=NOW + HOUR), NOW, None,
                 Plan(NOW + HOUR, S.PAUSED), id="a-pause-holds-a-backfill"),
    pytest.param(replace(I60, backfill_next_at=NOW - HOUR, backfill_until=NOW, runs_left=0, ends_at=NOW - DAY), NOW, None,
                 Plan(NOW - HOUR, S.BACKFILL), id="a-backfill-runs-whatever-the-dates-and-count-say"),
    # Rule 1: a one-off runs at its time until a run has started at or after it.
    pytest.param(EndpointState(run_at=NOW + HOUR), NOW, None, Plan(NOW + HOUR, S.ONE_OFF), id="one-off-runs-at-its-time"),
    pytest.param(EndpointState(run_at=NOW - HOUR), NOW, None, Plan(NOW, S.ONE_OFF), id="one-off-whose-time-passed-runs-now"),
    pytest.param(EndpointState(run_at=NOW + HOUR, run_requested_at=NOW), NOW, None, Plan(NOW, S.MANUAL), id="run-now-before-a-one-off-runs-now"),
    pytest.param(EndpointState(run_at=NOW + HOUR, last_run_at=NOW - MIN), NOW, NOW - MIN, Plan(NOW + HOUR, S.ONE_OFF),
                 id="a-run-before-the-one-offs-time-leaves-it-pending"),
    pytest.param(EndpointState(run_at=NOW + 3 * HOUR, max_interval_ms=60_000), NOW, None, Plan(NOW + 3 * HOUR, S.ONE_OFF),
                 id="max-interval-does-not-pull-a-one-off-early"),
    pytest.param(EndpointState(run_at=NOW + HOUR, ai_hint_interval_ms=60_000, ai_hint_expires_at=FRESH), NOW, None,
                 Plan(NOW + HOUR, S.ONE_OFF), id="an-interval-hint-does-not-make-a-one-off-recur"),
    pytest.param(EndpointState(run_at=NOW + HOUR, starts_at=NOW + HOUR), NOW, None, Plan(NOW + HOUR, S.ONE_OFF), id="a-one-off-at-starts-at-runs"),
    # Rule 4: a slot missed before the run started, replayed under catch_up=all, keeps its past slot.
    pytest.param(replace(I15, last_run_at=NOW, catch_up=C.ALL), NOW + SEC, NOW - 10 * MIN, Plan(NOW - 10 * MIN + 15 * SEC, S.CATCH_UP),
                 id="all-replays-a-slot-missed-before-the-run-started"),
    # Rule 8: nothing before starts_at; a slot at or before ends_at still runs.
    pytest.param(replace(I60, starts_at=NOW + DAY), NOW, None, Plan(NOW + DAY, S.STARTS_AT), id="an-interval-endpoint-starts-at-its-starts-at"),
    pytest.param(replace(HOURLY, starts_at=NOW + 90 * MIN), NOW, None, Plan(NOW + 2 * HOUR, S.BASELINE_CRON),
                 id="a-cron-endpoint-starts-at-its-first-slot-from-starts-at"),
    pytest.param(replace(HOURLY, starts_at=NOW + 2 * HOUR), NOW, None, Plan(NOW + 2 * HOUR, S.BASELINE_CRON), id="a-cron-slot-at-starts-at-runs"),
    pytest.param(replace(I60, starts_at=NOW + HOUR, run_requested_at=NOW), NOW, None, Plan(NOW + HOUR, S.STARTS_AT),
                 id="run-now-before-starts-at-waits-for-it"),
    pytest.param(replace(I60, starts_at=NOW + HOUR, paused_until=NOW + MIN), NOW, None, Plan(NOW + HOUR, S.STARTS_AT),
                 id="a-pause-ending-before-starts-at-does-not-run-it-early"),
    pytest.param(replace(I60, starts_at=NOW + HOUR, paused_until=NOW + 2 * HOUR), NOW, None, Plan(NOW + 2 * HOUR, S.PAUSED),
                 id="a-pause-ending-after-starts-at-still-wins"),
    pytest.param(replace(I60, starts_at=NOW + HOUR, max_interval_ms=60_000), NOW, None, Plan(NOW + HOUR, S.STARTS_AT),
                 id="max-interval-does-not-pull-a-run-before-starts-at"),
    pytest.param(replace(I60, starts_at=NOW - DAY), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="a-starts-at-in-the-past-changes-nothing"),
    pytest.param(replace(I60, ends_at=NOW + MIN), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="a-slot-exactly-at-ends-at-runs"),
    pytest.param(replace(I60, runs_left=1), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="one-run-left-still-runs"),
    pytest.param(replace(cron("*/15 * * * *", "America/New_York"), starts_at=at(NY, 2026, 3, 8, 1, 50)), at(NY, 2026, 3, 7, 12, 0), None,
                 Plan(at(NY, 2026, 3, 8, 3, 0), S.BASELINE_CRON), id="dst-new-york-starts-at-before-the-gap-runs-the-collapsed-slot-at-0300-edt"),
    pytest.param(replace(cron("30 1 * * *", "America/New_York"), starts_at=at(NY, 2026, 11, 1, 1, 10, fold=1)), at(NY, 2026, 10, 31, 12, 0),
                 None, Plan(at(NY, 2026, 11, 2, 1, 30), S.BASELINE_CRON), id="dst-new-york-starts-at-in-the-repeated-hour-skips-the-passed-0130"),
]


@pytest.mark.parametrize("state, now, after_slot, expected", ROWS)
def test_it_plans_the_next_run_by_the_governors_rules(
    state: EndpointState, now: datetime, after_slot: datetime | None, expected: Plan
) -> None:
    plan = plan_next_run(state, now, after_slot=after_slot)
    assert (plan.at, plan.source) == (expected.at, expected.source)
    assert plan.at.utcoffset() == timedelta(0)  # one clock, UTC inside


def test_it_has_a_row_for_every_rule_and_at_least_thirty_distinct_ones() -> None:
    ids = [row.id for row in ROWS]
    assert len(ids) >= 30 and len(set(ids)) == len(ids)
    plans = [row.values[3] for row in ROWS]
    sources = {plan.source for plan in plans if isinstance(plan, Plan)}
    # Every source the governor can give is reached (deferrals are the quota's, retries `plan_retry`'s).
    assert sources >= set(S) - {S.DEFERRED, S.RETRY}


def test_it_measures_the_lord_howe_hourly_step_in_real_time() -> None:
    # The row above, spelled out: 01:00 LHDT (+11) to 02:00 LHST (+10:30) is 90 real minutes.
    plan = plan_next_run(cron("0 * * * *", "Australia/Lord_Howe"), at(LORD_HOWE, 2026, 4, 5, 1, 0),
                         after_slot=at(LORD_HOWE, 2026, 4, 5, 1, 0))
    assert plan.at - at(LORD_HOWE, 2026, 4, 5, 1, 0) == 90 * MIN


# settle_after_run: (state, success, started_at, finished_at, changed fields, plan at finished_at
# with after_slot=started_at). The plan column is what proves a served hint causes no extra run.
SETTLE_ROWS = [
    pytest.param(replace(I60, failure_count=3), True, NOW, NOW + SEC, {"failure_count": 0},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="success-resets-failures"),
    pytest.param(replace(I60, failure_count=3), False, NOW, NOW + SEC, {"failure_count": 4},
                 Plan(NOW + 16 * MIN, S.BASELINE_INTERVAL), id="failure-increments-failures"),
    pytest.param(I60, False, NOW, NOW + SEC, {"failure_count": 1},
                 Plan(NOW + 2 * MIN, S.BASELINE_INTERVAL), id="first-failure-counts-one"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="consumed-one-shot-is-cleared-and-causes-no-extra-run"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - 10 * SEC, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="one-shot-served-late-is-consumed"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + 30 * MIN), False, NOW, NOW + SEC,
                 {"failure_count": 1, "ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + 2 * MIN, S.BASELINE_INTERVAL), id="failed-run-still-consumes-the-one-shot"),
    pytest.param(replace(HOURLY, ai_hint_next_run_at=NOW + 10 * MIN, ai_hint_expires_at=NOW + 30 * MIN), True, NOW + 10 * MIN,
                 NOW + 10 * MIN + SEC, {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + HOUR, S.BASELINE_CRON), id="consumed-one-shot-on-cron-returns-to-the-grid"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 30 * SEC, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC, {},
                 Plan(NOW + 30 * SEC, S.AI_ONESHOT), id="unconsumed-future-one-shot-is-kept-and-still-runs"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_next_run_at=NOW + 10 * MIN, ai_hint_expires_at=NOW + timedelta(milliseconds=500)),
                 True, NOW, NOW + SEC, {"ai_hint_interval_ms": None, "ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="expired-hints-are-cleared"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW + SEC), True, NOW, NOW + SEC,
                 {"ai_hint_interval_ms": None, "ai_hint_expires_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="hint-expiring-exactly-at-the-finish-is-cleared"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW + HOUR), True, NOW, NOW + SEC, {},
                 Plan(NOW + 5 * SEC, S.AI_INTERVAL), id="interval-hint-is-kept-while-fresh"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + HOUR), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None}, Plan(NOW + 5 * SEC, S.AI_INTERVAL), id="consumed-one-shot-leaves-a-fresh-interval-hint"),
    pytest.param(replace(I60, run_requested_at=NOW), True, NOW, NOW + SEC, {"run_requested_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="served-run-now-is-consumed"),
    pytest.param(replace(I60, run_requested_at=NOW - 5 * SEC, last_run_at=NOW - HOUR), True, NOW, NOW + SEC, {"run_requested_at": None},
                 Plan(NOW + MIN, S.BASELINE_INTERVAL), id="run-now-served-by-a-later-start-is-consumed"),
    pytest.param(replace(I60, run_requested_at=NOW + 2 * SEC), True, NOW, NOW + 5 * SEC, {},
                 Plan(NOW + 5 * SEC, S.MANUAL), id="run-now-made-during-the-run-survives-and-runs-next"),
]


@pytest.mark.parametrize("state, success, started_at, finished_at, changed, plan_after", SETTLE_ROWS)
def test_it_settles_a_finished_run_and_plans_from_the_settled_state(
    state: EndpointState, success: bool, started_at: datetime, finished_at: datetime, changed: dict[str, Any], plan_after: Plan
) -> None:
    settled = settle_after_run(state, success=success, started_at=started_at, now=finished_at)
    # Only the listed fields change, besides last_run_at, which always becomes the run's start.
    assert settled == replace(state, last_run_at=started_at, **changed)
    assert plan_next_run(settled, finished_at, after_slot=started_at) == plan_after


def test_a_failure_with_a_retry_pending_counts_only_once_its_slot_is_decided() -> None:
    state = replace(I60, failure_count=2, run_requested_at=NOW)
    pending = settle_after_run(state, success=False, final=False, started_at=NOW, now=NOW + SEC)
    assert pending == replace(state, last_run_at=NOW, run_requested_at=None)  # served the run-now, counted nothing
    assert settle_after_run(pending, success=False, started_at=NOW + MIN, now=NOW + MIN).failure_count == 3


def test_what_a_response_says_of_the_next_call_replaces_what_the_last_one_said() -> None:
    held = replace(I60, not_before_at=NOW + HOUR)
    assert settle_after_run(held, success=True, started_at=NOW, now=NOW, not_before=NOW + MIN).not_before_at == NOW + MIN
    assert settle_after_run(held, success=True, started_at=NOW, now=NOW).not_before_at is None


# Rule 4, catch-up and overlap: (state, now, after_slot, expected). Slots missed *during* the call
# are the overlap's (OVERRAN: a 15 s grid from NOW whose call ran to NOW+50 s); slots missed
# *before* the run started (LATE: the slot NOW-50 s ran late, starting at NOW) are the catch-up's.
OVERRAN = replace(I15, last_run_at=NOW)
LATE = replace(I15, last_run_at=NOW)
LATE_SLOT = NOW - 50 * SEC
CATCH_UP_ROWS = [
    pytest.param(OVERRAN, NOW + 50 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="slots-overrun-by-the-call-follow-overlap-skip"),
    pytest.param(replace(OVERRAN, catch_up=C.ALL), NOW + 50 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="all-does-not-replay-slots-overrun-by-the-call"),
    pytest.param(replace(OVERRAN, catch_up=C.ALL, overlap=O.BUFFER_ONE), NOW + 50 * SEC, NOW, Plan(NOW + 50 * SEC, S.BASELINE_INTERVAL),
                 id="all-with-buffer-one-runs-overrun-slots-once-now"),
    pytest.param(OVERRAN, NOW + 45 * SEC, NOW, Plan(NOW + 45 * SEC, S.BASELINE_INTERVAL), id="overlap-skip-runs-a-slot-falling-due-exactly-now"),
    pytest.param(LATE, NOW + SEC, LATE_SLOT, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL), id="coalesce-the-late-run-served-the-slots-missed-before-it"),
    pytest.param(replace(LATE, catch_up=C.SKIP), NOW + SEC, LATE_SLOT, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL),
                 id="skip-plans-like-coalesce-after-a-late-run-the-tick-let-through"),
    pytest.param(replace(LATE, catch_up=C.ALL), NOW + SEC, LATE_SLOT, Plan(NOW - 35 * SEC, S.CATCH_UP), id="all-replays-the-oldest-slot-missed-before-the-run"),
    pytest.param(replace(LATE, catch_up=C.ALL, last_run_at=NOW + 2 * SEC), NOW + 3 * SEC, NOW - 35 * SEC, Plan(NOW - 20 * SEC, S.CATCH_UP),
                 id="all-after-a-replay-replays-the-next-missed-slot"),
    pytest.param(replace(LATE, catch_up=C.ALL, last_run_at=NOW + 2 * SEC), NOW + 3 * SEC, NOW - 5 * SEC, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL),
                 id="all-after-the-last-replay-is-back-on-the-grid"),
    pytest.param(replace(LATE, catch_up=C.ALL, catch_up_window_ms=7_200_000), NOW + SEC, NOW - 3 * HOUR,
                 Plan(NOW - 2 * HOUR + 15 * SEC, S.CATCH_UP), id="all-replays-no-further-back-than-the-window"),
    pytest.param(replace(I15, last_run_at=NOW + 40 * SEC, catch_up=C.ALL, min_interval_ms=60_000), NOW + 40500 * MS, NOW,
                 Plan(NOW + 15 * SEC, S.CATCH_UP), id="a-replay-keeps-its-slot-not-moved-by-min-interval-or-the-1s-spacing"),
    pytest.param(replace(I15, last_run_at=NOW, catch_up=C.ALL), NOW + SEC, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL), id="all-on-time-is-the-plain-grid"),
    pytest.param(replace(LATE, catch_up=C.ALL, ai_hint_interval_ms=10_000, ai_hint_expires_at=FRESH), NOW + SEC, NOW - 25 * SEC,
                 Plan(NOW - 15 * SEC, S.CATCH_UP), id="all-replays-missed-interval-hint-slots-too"),
    pytest.param(replace(LATE, catch_up=C.ALL, run_requested_at=NOW - 40 * SEC), NOW + SEC, LATE_SLOT, Plan(NOW + SEC, S.MANUAL),
                 id="a-run-now-older-than-the-replay-runs-now-not-in-the-past"),
    pytest.param(replace(LATE, catch_up=C.ALL, paused_until=NOW + HOUR), NOW + SEC, LATE_SLOT, Plan(NOW + HOUR, S.PAUSED), id="pause-wins-over-a-replay"),
    pytest.param(replace(HOURLY, last_run_at=NOW + 3 * HOUR + 5 * MIN), NOW + 3 * HOUR + 6 * MIN, NOW, Plan(NOW + 4 * HOUR, S.BASELINE_CRON),
                 id="cron-coalesce-after-an-outage-is-back-on-the-grid"),
    pytest.param(replace(HOURLY, last_run_at=NOW + 3 * HOUR + 5 * MIN, catch_up=C.ALL), NOW + 3 * HOUR + 6 * MIN, NOW,
                 Plan(NOW + 3 * HOUR, S.CATCH_UP), id="cron-all-replays-the-missed-hours-within-the-window"),
    # DST: America/New_York falls back on 2026-11-01; an outage from 00:00 EDT to 02:30 EST replays
    # 01:00 EDT, then 02:00 EST (the repeated hour adds no slot), then the grid goes on at 03:00 EST.
    pytest.param(replace(cron("0 * * * *", "America/New_York"), catch_up=C.ALL, catch_up_window_ms=3 * 3_600_000, last_run_at=at(NY, 2026, 11, 1, 2, 30)),
                 at(NY, 2026, 11, 1, 2, 31), at(NY, 2026, 11, 1, 0, 0), Plan(at(NY, 2026, 11, 1, 1, 0, fold=0), S.CATCH_UP),
                 id="dst-new-york-all-replays-0100-edt"),
    pytest.param(replace(cron("0 * * * *", "America/New_York"), catch_up=C.ALL, catch_up_window_ms=3 * 3_600_000, last_run_at=at(NY, 2026, 11, 1, 2, 32)),
                 at(NY, 2026, 11, 1, 2, 33), at(NY, 2026, 11, 1, 1, 0, fold=0), Plan(at(NY, 2026, 11, 1, 2, 0), S.CATCH_UP),
                 id="dst-new-york-all-then-replays-0200-est-not-the-repeated-hour"),
    pytest.param(replace(cron("0 * * * *", "America/New_York"), catch_up=C.ALL, catch_up_window_ms=3 * 3_600_000, last_run_at=at(NY, 2026, 11, 1, 2, 34)),
                 at(NY, 2026, 11, 1, 2, 35), at(NY, 2026, 11, 1, 2, 0), Plan(at(NY, 2026, 11, 1, 3, 0), S.BASELINE_CRON),
                 id="dst-new-york-all-then-back-on-the-grid-at-0300-est"),
]


@pytest.mark.parametrize("state, now, after_slot, expected", CATCH_UP_ROWS)
def test_catch_up_and_overlap_decide_what_becomes_of_missed_slots(
    state: EndpointState, now: datetime, after_slot: datetime, expected: Plan
) -> None:
    assert plan_next_run(state, now, after_slot=after_slot) == expected


def test_the_defaults_are_coalesce_and_skip_everywhere() -> None:
    assert (EndpointState().catch_up, EndpointState().overlap) == (C.COALESCE, O.SKIP)
    assert Settings.from_env({}).catch_up == C.COALESCE.value == InputCaps().catch_up
    assert set(get_args(CatchUpName)) == {c.value for c in C} and set(get_args(OverlapName)) == {o.value for o in O}


# skipped_as_missed: (state, now, claimed slot, claimed source, skipped?). A claim is skipped only
# under catch_up=skip, for a scheduled slot more than the grace late whose next slot is due too.
SKIPPING = replace(I60, catch_up=C.SKIP)
MISSED_ROWS = [
    pytest.param(SKIPPING, NOW + 90 * SEC, NOW, "baseline-interval", True, id="a-slot-overtaken-by-its-successor-is-skipped"),
    pytest.param(SKIPPING, NOW + 50 * SEC, NOW, "baseline-interval", False, id="a-slot-merely-late-still-runs"),
    pytest.param(replace(SKIPPING, baseline_interval_ms=10_000), NOW + 20 * SEC, NOW, "baseline-interval", False,
                 id="ordinary-lag-within-the-grace-never-skips-a-fast-endpoint"),
    pytest.param(replace(SKIPPING, baseline_interval_ms=10_000), NOW + 31 * SEC, NOW, "baseline-interval", True,
                 id="a-fast-endpoint-past-the-grace-and-overtaken-is-skipped"),
    pytest.param(I60, NOW + HOUR, NOW, "baseline-interval", False, id="coalesce-never-skips"),
    pytest.param(replace(I60, catch_up=C.ALL), NOW + HOUR, NOW, "baseline-interval", False, id="all-never-skips"),
    pytest.param(SKIPPING, NOW + HOUR, NOW, "manual", False, id="a-run-now-is-never-skipped"),
    pytest.param(SKIPPING, NOW + HOUR, NOW, "ai-oneshot", False, id="a-one-shot-hint-is-never-skipped"),
    pytest.param(SKIPPING, NOW + HOUR, NOW, "paused", False, id="a-pause-end-is-never-skipped"),
    pytest.param(SKIPPING, NOW + HOUR, NOW, "backfill", False, id="a-backfill-slot-is-never-skipped"),
    pytest.param(replace(EndpointState(run_at=NOW), catch_up=C.SKIP), NOW + HOUR, NOW, "one-off", False, id="a-one-off-is-never-skipped"),
    pytest.param(replace(HOURLY, catch_up=C.SKIP), NOW + 59 * MIN, NOW, "baseline-cron", False, id="cron-slot-59-minutes-late-runs"),
    pytest.param(replace(HOURLY, catch_up=C.SKIP), NOW + HOUR + MIN, NOW, "baseline-cron", True, id="cron-slot-past-the-next-hour-is-skipped"),
]


@pytest.mark.parametrize("state, now, slot, source, skipped", MISSED_ROWS)
def test_only_a_missed_scheduled_slot_of_a_skipping_endpoint_is_skipped(
    state: EndpointState, now: datetime, slot: datetime, source: str, skipped: bool
) -> None:
    assert skipped_as_missed(state, now, slot=slot, source=source) is skipped


def test_a_skipped_slot_is_replaced_by_the_next_slot_still_ahead_on_its_grid() -> None:
    # The tick plans it as if a run had started now: the grid keeps its phase (NOW + k x 60 s).
    plan = plan_next_run(replace(SKIPPING, last_run_at=NOW - MIN), NOW + 150 * SEC, after_slot=NOW, started_at=NOW + 150 * SEC)
    assert plan == Plan(NOW + 3 * MIN, S.BASELINE_INTERVAL)


# Rule 8, and rule 1's one-off, when they end the schedule: no plan at all.
ENDED_ROWS = [
    pytest.param(replace(I60, ends_at=NOW + 30 * SEC), NOW, None, id="the-next-slot-after-ends-at-ends-it"),
    pytest.param(replace(HOURLY, ends_at=NOW + 30 * MIN), NOW + MIN, None, id="a-cron-endpoint-whose-next-slot-is-after-ends-at-ends"),
    pytest.param(replace(I60, ends_at=NOW + MIN, paused_until=NOW + HOUR), NOW, None, id="a-pause-past-ends-at-ends-it"),
    pytest.param(replace(I60, ends_at=NOW + 30 * SEC, starts_at=NOW - HOUR, last_run_at=NOW), NOW + SEC, NOW,
                 id="a-run-whose-next-slot-is-after-ends-at-was-the-last"),
    pytest.param(replace(I60, runs_left=0), NOW, None, id="no-runs-left-ends-it"),
    pytest.param(replace(I60, runs_left=0, run_requested_at=NOW), NOW, None, id="a-run-now-does-not-revive-an-endpoint-with-no-runs-left"),
    pytest.param(EndpointState(run_at=NOW - HOUR, last_run_at=NOW - HOUR), NOW, None, id="a-one-off-that-started-at-its-time-is-done"),
    pytest.param(EndpointState(run_at=NOW - HOUR, last_run_at=NOW - 30 * MIN), NOW, None, id="a-one-off-that-ran-late-is-done"),
]


@pytest.mark.parametrize("state, now, after_slot", ENDED_ROWS)
def test_a_schedule_that_ran_out_plans_nothing(state: EndpointState, now: datetime, after_slot: datetime | None) -> None:
    assert plan_next_run(state, now, after_slot=after_slot) is None


def test_why_a_schedule_ended_is_named() -> None:
    assert ending(replace(I60, runs_left=0)) == "max_runs reached"
    assert ending(EndpointState(run_at=NOW, last_run_at=NOW)) == "its one-off ran"
    assert ending(replace(I60, runs_left=1)) is None and ending(EndpointState(run_at=NOW, last_run_at=NOW - SEC)) is None


# Jitter: a fixed offset per slot, derived from the endpoint's id and the slot.
JITTERY = replace(I60, id="ep-1", jitter_ms=30_000)


def test_jitter_is_a_fixed_function_of_the_endpoint_and_the_slot() -> None:
    # Pinned: SHA-256 of "golden:2026-03-02T12:00:00.000000Z", so every process and release agrees.
    assert jitter_offset("golden", NOW, jitter_ms=60_000, gap=HOUR) == timedelta(milliseconds=41_590)
    assert jitter_offset("ep-1", NOW, jitter_ms=30_000, gap=HOUR) == jitter_offset("ep-1", NOW, jitter_ms=30_000, gap=HOUR)
    assert jitter_offset("ep-1", NOW, jitter_ms=0, gap=HOUR) == timedelta(0)
    offsets = {jitter_offset("ep-1", NOW + k * MIN, jitter_ms=30_000, gap=HOUR) for k in range(20)}
    others = {jitter_offset(f"ep-{k}", NOW, jitter_ms=30_000, gap=HOUR) for k in range(20)}
    assert len(offsets) > 10 and len(others) > 10  # it varies by slot and by endpoint


@settings(max_examples=300, deadline=None)
@given(ident=st.text(max_size=20), slot_s=st.integers(-10**8, 10**8), jitter_ms=st.integers(0, 3_600_000), gap_ms=st.integers(1, 10**8))
def test_jitter_stays_within_jitter_ms_and_below_the_gap(ident: str, slot_s: int, jitter_ms: int, gap_ms: int) -> None:
    offset = jitter_offset(ident, NOW + slot_s * SEC, jitter_ms=jitter_ms, gap=gap_ms * MS)
    assert timedelta(0) <= offset <= jitter_ms * MS and (offset < gap_ms * MS or offset == timedelta(0))
    assert offset % MS == timedelta(0)  # whole milliseconds


def test_a_jittered_grid_continues_from_its_slots_so_jitter_never_accumulates() -> None:
    state, slot, planned = JITTERY, NOW, []
    for _ in range(50):  # each run starts at its jittered time and takes 2 s
        started = slot
        settled = settle_after_run(state, success=True, started_at=started, now=started + 2 * SEC)
        plan = plan_next_run(settled, started + 2 * SEC, after_slot=slot)
        assert plan is not None
        planned.append(plan)
        state, slot = replace(settled, grid_slot_at=plan.grid_slot), plan.at
    grid = [p.grid_slot or p.at for p in planned]
    assert grid == [NOW + k * MIN for k in range(1, 51)]  # the grid itself never moved
    assert all(timedelta(0) <= p.at - g <= 30 * SEC for p, g in zip(planned, grid, strict=True))
    assert len({p.at - g for p, g in zip(planned, grid, strict=True)}) > 25  # and each slot has its own offset


def test_a_stale_grid_slot_is_not_taken_for_the_claimed_slots_origin() -> None:
    # A grid slot left from an earlier plan (the run that came was a run-now at NOW) anchors nothing.
    stale = replace(JITTERY, grid_slot_at=NOW - 7 * SEC, last_run_at=NOW)
    assert grid_anchor(stale, NOW, NOW + SEC) == NOW
    first = plan_next_run(JITTERY, NOW)
    assert first is not None and first.grid_slot == NOW + MIN
    assert grid_anchor(replace(JITTERY, grid_slot_at=first.grid_slot), first.at, first.at) == NOW + MIN


def test_jitter_keeps_each_cron_slot_before_the_next_one_across_dst() -> None:
    # Every 15 minutes in New York with 1 h of jitter: each offset stays below the 15-minute gap,
    # and across the spring-forward gap (02:00-02:45 collapse into 03:00 EDT) too.
    state = replace(cron("*/15 * * * *", "America/New_York"), id="ep-dst", jitter_ms=3_600_000)
    now, slot = at(NY, 2026, 3, 8, 1, 0), at(NY, 2026, 3, 8, 1, 0)
    seen = []
    for _ in range(12):
        plan = plan_next_run(replace(state, last_run_at=now), now, after_slot=slot)
        assert plan is not None and plan.source is S.BASELINE_CRON
        origin = plan.grid_slot or plan.at
        assert origin <= plan.at < next_cron_after("*/15 * * * *", "America/New_York", origin)
        seen.append(origin)
        state, slot, now = replace(state, grid_slot_at=plan.grid_slot), plan.at, plan.at
    wall = [at(NY, 2026, 3, 8, 1, 15), at(NY, 2026, 3, 8, 1, 30), at(NY, 2026, 3, 8, 1, 45), at(NY, 2026, 3, 8, 3, 0)]
    assert seen[:5] == [*wall, at(NY, 2026, 3, 8, 3, 15)]  # 02:00-02:45 collapsed into 03:00 EDT, once


def test_a_replayed_slot_is_jittered_and_keeps_its_past_slot() -> None:
    state = replace(LATE, id="ep-1", jitter_ms=5_000, catch_up=C.ALL)
    plan = plan_next_run(state, NOW + SEC, after_slot=LATE_SLOT)
    offset = jitter_offset("ep-1", NOW - 35 * SEC, jitter_ms=5_000, gap=15 * SEC)
    assert plan == Plan(NOW - 35 * SEC + offset, S.CATCH_UP, (NOW - 35 * SEC) if offset else None)


# Rule 0 and settling: a backfill moves its cursor and nothing else; other runs count down max_runs.
BACKFILLING = replace(I60, backfill_next_at=NOW - HOUR, backfill_until=NOW - HOUR + 3 * MIN, runs_left=5, failure_count=2)


def test_a_backfill_run_moves_its_cursor_and_touches_nothing_else() -> None:
    settled = settle_after_run(BACKFILLING, success=False, started_at=NOW, now=NOW + SEC, slot=NOW - HOUR, source="backfill")
    assert settled == replace(BACKFILLING, last_run_at=NOW, backfill_next_at=NOW - HOUR + MIN)
    last = settle_after_run(replace(BACKFILLING, backfill_next_at=NOW - HOUR + 2 * MIN), success=True, started_at=NOW,
                            now=NOW + SEC, slot=NOW - HOUR + 2 * MIN, source="backfill")
    assert (last.backfill_next_at, last.backfill_until, last.runs_left, last.failure_count) == (None, None, 5, 2)
    # The schedule then resumes from the finish, as after an edit (not from the backfill's past slot).
    assert after_slot_of(NOW - HOUR, "backfill") is None and after_slot_of(NOW, "baseline-interval") == NOW
    assert plan_next_run(last, NOW + SEC, after_slot=None) == Plan(NOW + SEC + 2 * 2 * MIN, S.BASELINE_INTERVAL)


def test_a_finished_run_of_the_schedule_takes_one_of_runs_left() -> None:
    assert settle_after_run(replace(I60, runs_left=2), success=False, started_at=NOW, now=NOW + SEC).runs_left == 1
    assert settle_after_run(replace(I60, runs_left=1), success=True, started_at=NOW, now=NOW + SEC).runs_left == 0
    assert settle_after_run(I60, success=True, started_at=NOW, now=NOW + SEC).runs_left is None
    # A stale backfill run (not the cursor's slot) leaves the cursor where it is.
    stale = settle_after_run(BACKFILLING, success=True, started_at=NOW, now=NOW + SEC, slot=NOW - DAY, source="backfill")
    assert stale.backfill_next_at == BACKFILLING.backfill_next_at


BACKFILL_SLOTS = [
    pytest.param(I60, NOW - 3 * MIN, NOW, [NOW - 3 * MIN, NOW - 2 * MIN, NOW - MIN], id="interval-slots-start-at-since"),
    pytest.param(HOURLY, NOW - 150 * MIN, NOW, [NOW - 2 * HOUR, NOW - HOUR], id="cron-slots-in-the-half-open-range"),
    pytest.param(HOURLY, NOW - 2 * HOUR, NOW - HOUR, [NOW - 2 * HOUR], id="a-cron-slot-at-since-is-in-until-is-out"),
    pytest.param(cron("*/30 * * * *", "America/New_York"), at(NY, 2026, 3, 8, 1, 0), at(NY, 2026, 3, 8, 4, 0),
                 [at(NY, 2026, 3, 8, 1, 0), at(NY, 2026, 3, 8, 1, 30), at(NY, 2026, 3, 8, 3, 0), at(NY, 2026, 3, 8, 3, 30)],
                 id="dst-new-york-backfill-across-the-gap-runs-the-collapsed-slot-once"),
    pytest.param(cron("0 * * * *", "America/New_York"), at(NY, 2026, 11, 1, 0, 0), at(NY, 2026, 11, 1, 3, 0),
                 [at(NY, 2026, 11, 1, 0, 0), at(NY, 2026, 11, 1, 1, 0, fold=0), at(NY, 2026, 11, 1, 2, 0)],
                 id="dst-new-york-backfill-across-the-fold-runs-0100-once"),
]


@pytest.mark.parametrize("state, since, until, expected", BACKFILL_SLOTS)
def test_a_backfill_runs_the_baselines_slots_of_its_range(
    state: EndpointState, since: datetime, until: datetime, expected: list[datetime]
) -> None:
    assert backfill_slots(state, since, until, limit=100) == expected
    cursor = replace(state, backfill_next_at=expected[0], backfill_until=until)
    walked = [expected[0]]
    while cursor.backfill_next_at is not None:
        cursor = settle_after_run(cursor, success=True, started_at=NOW, now=NOW, slot=cursor.backfill_next_at, source="backfill")
        if cursor.backfill_next_at is not None:
            walked.append(cursor.backfill_next_at)
    assert walked == expected  # the cursor walks exactly these slots, then clears


def test_backfill_slots_stop_one_past_the_limit_so_a_caller_sees_there_are_more() -> None:
    assert len(backfill_slots(EndpointState(baseline_interval_ms=1_000), NOW - DAY, NOW, limit=10)) == 11


def test_a_grid_refuses_a_step_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive step"):
        Grid(NOW, timedelta(0)).after(NOW)


# Properties (hypothesis): whatever the interval, the dispatch lag and the call's duration, as long
# as the call ends before its next slot, consecutive slots are exactly one interval apart. (The lag
# stays within interval - 1 s: a later start would put the 1 s spacing past the next slot.)
INTERVALS_MS = st.integers(min_value=1_000, max_value=7 * 24 * 3_600_000)
FRACTIONS = st.lists(st.tuples(st.floats(0, 1), st.floats(0, 0.999)), min_size=2, max_size=30)


def run_on_time(state: EndpointState, slot: datetime, interval: timedelta, lag: float, duration: float, *, success: bool = True) -> Plan:
    """One run of `slot`: starts `lag` of (interval - 1 s) late, lasts `duration` of what is left; the plan after it."""
    started = slot + (interval - SEC) * lag
    finished = started + (slot + interval - started) * duration
    settled = settle_after_run(state, success=success, started_at=started, now=finished)
    return plan_next_run(settled, finished, after_slot=slot)


@settings(max_examples=200, deadline=None)
@given(interval_ms=INTERVALS_MS, runs=FRACTIONS, hinted=st.booleans())
def test_consecutive_slots_of_a_fast_endpoint_are_exactly_one_interval_apart(
    interval_ms: int, runs: list[tuple[float, float]], hinted: bool
) -> None:
    interval = timedelta(milliseconds=interval_ms)
    state = EndpointState(baseline_interval_ms=interval_ms)
    if hinted:  # an interval hint follows the same rule, on its own interval
        state = EndpointState(baseline_cron="0 * * * *", ai_hint_interval_ms=interval_ms, ai_hint_expires_at=NOW + 10_000 * DAY)
    slot = NOW
    for lag, duration in runs:
        plan = run_on_time(state, slot, interval, lag, duration)
        assert plan.at - slot == interval  # exactly: no drift, whatever the lag and the duration
        assert plan.source == (S.AI_INTERVAL if hinted else S.BASELINE_INTERVAL)
        slot = plan.at
    assert slot == NOW + interval * len(runs)  # and so no cumulative drift either


@settings(max_examples=100, deadline=None)
@given(interval_ms=INTERVALS_MS, runs=FRACTIONS)
def test_a_failing_endpoint_backs_off_on_the_slots_grid(interval_ms: int, runs: list[tuple[float, float]]) -> None:
    interval = timedelta(milliseconds=interval_ms)
    state, slot = EndpointState(baseline_interval_ms=interval_ms), NOW
    for failures, (lag, duration) in enumerate(runs, start=1):
        step = interval * 2 ** min(failures, 5)
        plan = run_on_time(state, slot, step, lag, duration, success=False)
        assert plan.at - slot == step
        state = replace(state, failure_count=failures)
        slot = plan.at


STATES = st.builds(
    EndpointState,
    baseline_interval_ms=st.integers(1_000, 3_600_000),
    min_interval_ms=st.none() | st.integers(0, 600_000),
    max_interval_ms=st.none() | st.integers(1_000, 3_600_000),
    failure_count=st.integers(0, 8),
    ai_hint_interval_ms=st.none() | st.integers(1, 600_000),
    ai_hint_next_run_at=st.none() | st.integers(-3_600, 3_600).map(lambda s: NOW + s * SEC),
    ai_hint_expires_at=st.none() | st.just(FRESH),
    run_requested_at=st.none() | st.integers(-3_600, 3_600).map(lambda s: NOW + s * SEC),
    paused_until=st.none() | st.integers(-60, 3_600).map(lambda s: NOW + s * SEC),
    id=st.sampled_from(["a", "b"]),
    jitter_ms=st.sampled_from([0, 0, 500, 30_000]),
    overlap=st.sampled_from(list(O)),
)


@settings(max_examples=300, deadline=None)
@given(
    state=STATES,
    slot_s=st.integers(-7_200, 0),
    lag_ms=st.integers(0, 7_200_000),
    duration_ms=st.integers(0, 600_000),
    policy=st.sampled_from([C.COALESCE, C.SKIP]),
)
def test_no_plan_is_in_the_past_or_sooner_than_1s_after_the_last_start(
    state: EndpointState, slot_s: int, lag_ms: int, duration_ms: int, policy: C
) -> None:
    slot = NOW + slot_s * SEC
    started = slot + lag_ms * MS
    finished = started + duration_ms * MS
    settled = settle_after_run(replace(state, catch_up=policy), success=True, started_at=started, now=finished)
    plan = plan_next_run(settled, finished, after_slot=slot)
    assert plan is not None
    assert plan.at >= finished and plan.at >= started + SEC
    if settled.max_interval_ms is not None and plan.source is not S.PAUSED:
        # Never later than the next slot of the max grid after the start, unless the spacing or now is later.
        ceiling = Grid(slot, settled.max_interval_ms * MS).after(started)
        assert ceiling - started <= settled.max_interval_ms * MS
        assert plan.at <= max(finished, started + SEC, ceiling)


@settings(max_examples=300, deadline=None)
@given(
    step_ms=st.integers(1, 3_600_000),
    late_ms=st.integers(0, 30 * 3_600_000),
    window_ms=st.integers(1, 7_200_000),
)
def test_each_policy_gives_a_slot_of_the_grid(step_ms: int, late_ms: int, window_ms: int) -> None:
    step, window = step_ms * MS, window_ms * MS
    grid = Grid(NOW, step)
    now = NOW + late_ms * MS

    def on_grid(t: datetime) -> bool:
        return t > NOW and (t - NOW) % step == timedelta(0)

    # A call from NOW to `now`: the slots it overran are the overlap's.
    skipped, on = next_slot(grid.after, slot=NOW, started_at=NOW, now=now)
    assert on and on_grid(skipped) and now <= skipped and (skipped == NOW + step or skipped < now + step)
    buffered = next_slot(grid.after, slot=NOW, started_at=NOW, now=now, overlap=O.BUFFER_ONE)
    assert buffered == ((NOW + step, True) if now <= NOW + step else (now, False))
    assert next_slot(grid.after, slot=NOW, started_at=NOW, now=now, catch_up=C.ALL) == (skipped, True)
    # A run of the slot NOW that started only at `now` (an outage): the slots before it are the catch-up's.
    for policy in (C.COALESCE, C.SKIP):
        served, on = next_slot(grid.after, slot=NOW, started_at=now, now=now, catch_up=policy)
        assert on and on_grid(served) and now <= served < max(now, NOW) + step + step
    replayed, on = next_slot(grid.after, slot=NOW, started_at=now, now=now, catch_up=C.ALL, window=window)
    assert on and on_grid(replayed) and (replayed >= now - window or replayed >= now)
    assert replayed == NOW + step or replayed - step < now - window  # the oldest slot the window keeps
