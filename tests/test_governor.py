"""The governor, table-driven: one row per rule of its docstring and per edge case (DST included)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cronicorn.core.governor import EndpointState, Grid, Plan, next_slot, plan_next_run, settle_after_run
from cronicorn.core.model import CatchUp as C
from cronicorn.core.model import PlanSource as S

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
    pytest.param(replace(I15, last_run_at=NOW), NOW + 20 * SEC, NOW, Plan(NOW + 20 * SEC, S.BASELINE_INTERVAL),
                 id="slow-call-overrunning-its-slot-coalesces-into-one-run-now"),
    pytest.param(replace(I15, last_run_at=NOW), NOW + 50 * SEC, NOW, Plan(NOW + 50 * SEC, S.BASELINE_INTERVAL),
                 id="call-overrunning-three-slots-still-runs-once-now"),
    pytest.param(replace(I15, last_run_at=NOW), NOW + SEC, NOW - HOUR - 5 * SEC, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL),
                 id="late-start-after-an-outage-served-the-missed-slots-and-keeps-the-grids-phase"),
    pytest.param(replace(I15, last_run_at=NOW + 70 * SEC), NOW + 71 * SEC, NOW, Plan(NOW + 75 * SEC, S.BASELINE_INTERVAL),
                 id="retried-attempt-starting-after-later-slots-served-them"),
    pytest.param(replace(I15, failure_count=2, last_run_at=NOW), NOW + SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="backoff-multiplies-the-interval-from-the-slot"),
    pytest.param(replace(I15, failure_count=2, last_run_at=NOW), NOW + 25 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL),
                 id="slow-failure-inside-the-backed-off-interval-keeps-the-grid"),
    pytest.param(replace(I15, failure_count=1, last_run_at=NOW), NOW + 40 * SEC, NOW, Plan(NOW + 40 * SEC, S.BASELINE_INTERVAL),
                 id="failure-overrunning-the-backed-off-interval-coalesces"),
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
    pytest.param(replace(HOURLY, last_run_at=NOW), NOW + 70 * MIN, NOW, Plan(NOW + 70 * MIN, S.BASELINE_CRON),
                 id="cron-slot-missed-by-a-slow-run-is-caught-up-once-now"),
    pytest.param(replace(HOURLY, last_run_at=NOW), NOW + 3 * HOUR + 5 * MIN, NOW, Plan(NOW + 3 * HOUR + 5 * MIN, S.BASELINE_CRON),
                 id="several-missed-cron-slots-coalesce-into-one-catch-up-run"),
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
                 Plan(NOW + 35 * SEC, S.AI_INTERVAL), id="call-overrunning-the-interval-hint-coalesces-into-one-run-now"),
    pytest.param(replace(HOURLY, ai_hint_interval_ms=300_000, ai_hint_expires_at=FRESH, last_run_at=NOW + 10 * MIN), NOW + 10 * MIN + 3 * SEC,
                 NOW + 10 * MIN, Plan(NOW + 15 * MIN, S.AI_INTERVAL), id="interval-hint-on-a-cron-endpoint-is-anchored-on-the-slot"),
    # Rule 4: a chosen time in the past becomes now.
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - 5 * MIN, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW, S.AI_ONESHOT),
                 id="one-shot-in-the-past-runs-now"),
    pytest.param(replace(I60, run_requested_at=NOW - HOUR), NOW, None, Plan(NOW, S.MANUAL), id="run-now-request-in-the-past-runs-now"),
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
    pytest.param(replace(HOURLY, last_run_at=NOW, min_interval_ms=4_800_000), NOW + 70 * MIN, NOW, Plan(NOW + 80 * MIN, S.CLAMPED_MIN),
                 id="min-clamps-a-cron-catch-up-run"),
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


# Rule 4, catch-up: (policy, state, now, after_slot, expected). A 15 s grid from the slot NOW whose
# call overran three slots (NOW+15, +30, +45 missed), a late start after an outage, and a cron.
OVERRAN = replace(I15, last_run_at=NOW)
CATCH_UP_ROWS = [
    pytest.param(C.COALESCE, OVERRAN, NOW + 50 * SEC, NOW, Plan(NOW + 50 * SEC, S.BASELINE_INTERVAL), id="coalesce-runs-the-missed-slots-once-now"),
    pytest.param(C.SKIP, OVERRAN, NOW + 50 * SEC, NOW, Plan(NOW + MIN, S.BASELINE_INTERVAL), id="skip-waits-for-the-next-slot-ahead-on-the-grid"),
    pytest.param(C.SKIP, OVERRAN, NOW + 45 * SEC, NOW, Plan(NOW + 45 * SEC, S.BASELINE_INTERVAL), id="skip-runs-a-slot-falling-due-exactly-now"),
    pytest.param(C.ALL, OVERRAN, NOW + 50 * SEC, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL), id="all-replays-the-oldest-missed-slot-first"),
    pytest.param(C.ALL, replace(I15, last_run_at=NOW + 50 * SEC), NOW + 51 * SEC, NOW + 15 * SEC, Plan(NOW + 30 * SEC, S.BASELINE_INTERVAL),
                 id="all-after-a-replay-replays-the-next-missed-slot"),
    pytest.param(C.ALL, replace(I15, last_run_at=NOW + 40 * SEC), NOW + 40500 * MS, NOW, Plan(NOW + 41 * SEC, S.BASELINE_INTERVAL),
                 id="all-replay-waits-for-the-1s-spacing"),
    pytest.param(C.ALL, replace(I15, last_run_at=NOW), NOW + SEC, NOW - 3 * HOUR, Plan(NOW - 2 * HOUR + 15 * SEC, S.BASELINE_INTERVAL),
                 id="all-replays-no-further-back-than-the-window"),
    pytest.param(C.ALL, replace(I15, last_run_at=NOW), NOW + SEC, NOW, Plan(NOW + 15 * SEC, S.BASELINE_INTERVAL), id="all-on-time-is-the-plain-grid"),
    pytest.param(C.SKIP, replace(I15, last_run_at=NOW), NOW + SEC, NOW - HOUR - 5 * SEC, Plan(NOW + 10 * SEC, S.BASELINE_INTERVAL),
                 id="skip-after-an-outage-is-the-grid-after-the-start"),
    pytest.param(C.ALL, replace(I15, ai_hint_interval_ms=10_000, ai_hint_expires_at=FRESH, last_run_at=NOW), NOW + 25 * SEC, NOW,
                 Plan(NOW + 10 * SEC, S.AI_INTERVAL), id="all-replays-missed-interval-hint-slots-too"),
    pytest.param(C.ALL, replace(OVERRAN, run_requested_at=NOW + 5 * SEC), NOW + 50 * SEC, NOW, Plan(NOW + 50 * SEC, S.MANUAL),
                 id="an-earlier-run-now-request-still-becomes-now-not-a-replay"),
    pytest.param(C.ALL, replace(OVERRAN, paused_until=NOW + HOUR), NOW + 50 * SEC, NOW, Plan(NOW + HOUR, S.PAUSED), id="pause-wins-over-a-replay"),
    pytest.param(C.COALESCE, replace(HOURLY, last_run_at=NOW), NOW + 3 * HOUR + 5 * MIN, NOW, Plan(NOW + 3 * HOUR + 5 * MIN, S.BASELINE_CRON),
                 id="cron-coalesce-runs-once-now"),
    pytest.param(C.SKIP, replace(HOURLY, last_run_at=NOW), NOW + HOUR + 5 * MIN, NOW, Plan(NOW + 2 * HOUR, S.BASELINE_CRON), id="cron-skip-waits-for-the-next-hour"),
    pytest.param(C.ALL, replace(HOURLY, last_run_at=NOW), NOW + HOUR + 5 * MIN, NOW, Plan(NOW + HOUR, S.BASELINE_CRON), id="cron-all-replays-the-missed-hour"),
]


@pytest.mark.parametrize("policy, state, now, after_slot, expected", CATCH_UP_ROWS)
def test_the_catch_up_policy_decides_what_becomes_of_missed_slots(
    policy: C, state: EndpointState, now: datetime, after_slot: datetime, expected: Plan
) -> None:
    window = 2 * HOUR  # only the window row reaches back further
    assert plan_next_run(state, now, after_slot=after_slot, catch_up=policy, catch_up_window=window) == expected


def test_coalesce_is_the_default_catch_up() -> None:
    assert plan_next_run(OVERRAN, NOW + 50 * SEC, after_slot=NOW) == plan_next_run(
        OVERRAN, NOW + 50 * SEC, after_slot=NOW, catch_up=C.COALESCE
    )


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
    settled = settle_after_run(state, success=True, started_at=started, now=finished)
    plan = plan_next_run(settled, finished, after_slot=slot, catch_up=policy)
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

    coalesced = next_slot(grid.after, slot=NOW, started_at=NOW, now=now)
    assert coalesced == (NOW + step if now <= NOW + step else now)
    skipped = next_slot(grid.after, slot=NOW, started_at=NOW, now=now, catch_up=C.SKIP)
    assert on_grid(skipped) and now <= skipped and (skipped == NOW + step or skipped < now + step)
    replayed = next_slot(grid.after, slot=NOW, started_at=NOW, now=now, catch_up=C.ALL, window=window)
    assert on_grid(replayed) and replayed >= now - window
    assert replayed == NOW + step or replayed - step < now - window  # the oldest slot the window keeps
