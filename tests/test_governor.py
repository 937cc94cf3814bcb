"""The governor, table-driven: one row per rule of its docstring and per edge case (DST included)."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cronicorn.core.governor import EndpointState, Plan, plan_next_run, settle_after_run
from cronicorn.core.model import PlanSource as S

UTC = UTC
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)  # a Monday, on the hour, far from any DST change
SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
FRESH = NOW + HOUR  # a hint expiry in the future
STALE = NOW  # expires == now counts as expired

I60 = EndpointState(baseline_interval_ms=60_000)
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
    # Rule 4: a chosen time in the past becomes now.
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - 5 * MIN, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW, S.AI_ONESHOT),
                 id="one-shot-in-the-past-runs-now"),
    pytest.param(replace(I60, run_requested_at=NOW - HOUR), NOW, None, Plan(NOW, S.MANUAL), id="run-now-request-in-the-past-runs-now"),
    pytest.param(replace(HOURLY, run_requested_at=NOW - SEC), NOW + 30 * MIN, None, Plan(NOW + 30 * MIN, S.MANUAL),
                 id="run-now-on-a-cron-endpoint-runs-now"),
    # Rule 5: clamp into [max(now, last_run_at + min), now + max].
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
    # Rule 6: pause wins last, over everything, and means "the pause end".
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
    assert sources >= set(S) - {S.DEFERRED}  # every source the governor can give is reached


def test_it_measures_the_lord_howe_hourly_step_in_real_time() -> None:
    # The row above, spelled out: 01:00 LHDT (+11) to 02:00 LHST (+10:30) is 90 real minutes.
    plan = plan_next_run(cron("0 * * * *", "Australia/Lord_Howe"), at(LORD_HOWE, 2026, 4, 5, 1, 0),
                         after_slot=at(LORD_HOWE, 2026, 4, 5, 1, 0))
    assert plan.at - at(LORD_HOWE, 2026, 4, 5, 1, 0) == 90 * MIN


# settle_after_run: (state, success, started_at, finished_at, changed fields, plan at finished_at
# with after_slot=started_at). The plan column is what proves a served hint causes no extra run.
SETTLE_ROWS = [
    pytest.param(replace(I60, failure_count=3), True, NOW, NOW + SEC, {"failure_count": 0},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="success-resets-failures"),
    pytest.param(replace(I60, failure_count=3), False, NOW, NOW + SEC, {"failure_count": 4},
                 Plan(NOW + SEC + 16 * MIN, S.BASELINE_INTERVAL), id="failure-increments-failures"),
    pytest.param(I60, False, NOW, NOW + SEC, {"failure_count": 1},
                 Plan(NOW + SEC + 2 * MIN, S.BASELINE_INTERVAL), id="first-failure-counts-one"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="consumed-one-shot-is-cleared-and-causes-no-extra-run"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW - 10 * SEC, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="one-shot-served-late-is-consumed"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + 30 * MIN), False, NOW, NOW + SEC,
                 {"failure_count": 1, "ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + SEC + 2 * MIN, S.BASELINE_INTERVAL), id="failed-run-still-consumes-the-one-shot"),
    pytest.param(replace(HOURLY, ai_hint_next_run_at=NOW + 10 * MIN, ai_hint_expires_at=NOW + 30 * MIN), True, NOW + 10 * MIN,
                 NOW + 10 * MIN + SEC, {"ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + HOUR, S.BASELINE_CRON), id="consumed-one-shot-on-cron-returns-to-the-grid"),
    pytest.param(replace(I60, ai_hint_next_run_at=NOW + 30 * SEC, ai_hint_expires_at=NOW + 30 * MIN), True, NOW, NOW + SEC, {},
                 Plan(NOW + 30 * SEC, S.AI_ONESHOT), id="unconsumed-future-one-shot-is-kept-and-still-runs"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_next_run_at=NOW + 10 * MIN, ai_hint_expires_at=NOW + timedelta(milliseconds=500)),
                 True, NOW, NOW + SEC, {"ai_hint_interval_ms": None, "ai_hint_next_run_at": None, "ai_hint_expires_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="expired-hints-are-cleared"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW + SEC), True, NOW, NOW + SEC,
                 {"ai_hint_interval_ms": None, "ai_hint_expires_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="hint-expiring-exactly-at-the-finish-is-cleared"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW + HOUR), True, NOW, NOW + SEC, {},
                 Plan(NOW + 6 * SEC, S.AI_INTERVAL), id="interval-hint-is-kept-while-fresh"),
    pytest.param(replace(I60, ai_hint_interval_ms=5_000, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + HOUR), True, NOW, NOW + SEC,
                 {"ai_hint_next_run_at": None}, Plan(NOW + 6 * SEC, S.AI_INTERVAL), id="consumed-one-shot-leaves-a-fresh-interval-hint"),
    pytest.param(replace(I60, run_requested_at=NOW), True, NOW, NOW + SEC, {"run_requested_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="served-run-now-is-consumed"),
    pytest.param(replace(I60, run_requested_at=NOW - 5 * SEC, last_run_at=NOW - HOUR), True, NOW, NOW + SEC, {"run_requested_at": None},
                 Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL), id="run-now-served-by-a-later-start-is-consumed"),
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
