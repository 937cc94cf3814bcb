"""The governor, table-driven: one row per rule and edge case (DST included)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from shared.governor import EndpointState, Plan, plan_next_run, settle_after_run
from shared.model import PlanSource as S

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)

I60 = EndpointState(baseline_interval_ms=60_000)
HOURLY = EndpointState(baseline_cron="0 * * * *")
FRESH = NOW + HOUR  # hint expiry in the future
STALE = NOW  # expires == now counts as expired


def ny(*a: int, fold: int = 0) -> datetime:
    # As UTC: PEP 495 makes ambiguous times compare unequal across zones.
    return datetime(*a, tzinfo=NY, fold=fold).astimezone(UTC)  # type: ignore[misc]


ROWS: list[tuple[str, EndpointState, datetime, datetime | None, Plan]] = [
    # 1. baselines
    ("interval-baseline-runs-one-interval-after-now", I60, NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL)),
    ("one-failure-doubles-the-interval", replace(I60, failure_count=1), NOW, None, Plan(NOW + 2 * MIN, S.BASELINE_INTERVAL)),
    ("three-failures-multiply-by-8", replace(I60, failure_count=3), NOW, None, Plan(NOW + 8 * MIN, S.BASELINE_INTERVAL)),
    ("five-failures-multiply-by-32", replace(I60, failure_count=5), NOW, None, Plan(NOW + 32 * MIN, S.BASELINE_INTERVAL)),
    ("backoff-is-capped-at-32x", replace(I60, failure_count=9), NOW, None, Plan(NOW + 32 * MIN, S.BASELINE_INTERVAL)),
    ("cron-baseline-is-the-next-slot-after-now", HOURLY, NOW + 10 * MIN, None, Plan(NOW + HOUR, S.BASELINE_CRON)),
    ("cron-slot-exactly-now-moves-to-the-following-slot", HOURLY, NOW, None, Plan(NOW + HOUR, S.BASELINE_CRON)),
    ("cron-ignores-failures-no-backoff", replace(HOURLY, failure_count=4), NOW + 10 * MIN, None, Plan(NOW + HOUR, S.BASELINE_CRON)),
    ("cron-in-berlin-runs-on-berlin-wall-clock", EndpointState(baseline_cron="0 9 * * *", timezone="Europe/Berlin"),
     NOW, None, Plan(datetime(2026, 3, 3, 9, 0, tzinfo=BERLIN), S.BASELINE_CRON)),
    ("cron-stays-on-grid-after-a-run-that-finished-before-the-next-slot",
     replace(HOURLY, last_run_at=NOW), NOW + 20 * MIN, NOW, Plan(NOW + HOUR, S.BASELINE_CRON)),
    ("cron-slot-missed-by-a-slow-run-is-caught-up-once-now",
     replace(HOURLY, last_run_at=NOW), NOW + 70 * MIN, NOW, Plan(NOW + 70 * MIN, S.BASELINE_CRON)),
    # 2-3. hints
    ("fresh-interval-hint-replaces-interval-baseline",
     replace(I60, ai_hint_interval_ms=10_000, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 10 * SEC, S.AI_INTERVAL)),
    ("interval-hint-replaces-cron-baseline",
     replace(HOURLY, ai_hint_interval_ms=300_000, ai_hint_expires_at=FRESH), NOW + 10 * MIN, None, Plan(NOW + 15 * MIN, S.AI_INTERVAL)),
    ("interval-hint-bypasses-failure-backoff",
     replace(I60, failure_count=5, ai_hint_interval_ms=30_000, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 30 * SEC, S.AI_INTERVAL)),
    ("interval-hint-may-be-slower-than-the-baseline",
     replace(I60, ai_hint_interval_ms=600_000, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 10 * MIN, S.AI_INTERVAL)),
    ("hint-expiring-exactly-now-is-ignored",
     replace(I60, ai_hint_interval_ms=10_000, ai_hint_expires_at=STALE), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL)),
    ("expired-one-shot-is-ignored",
     replace(I60, ai_hint_next_run_at=NOW + 5 * SEC, ai_hint_expires_at=NOW - SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL)),
    ("one-shot-earlier-than-baseline-wins",
     replace(I60, ai_hint_next_run_at=NOW + 20 * SEC, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + 20 * SEC, S.AI_ONESHOT)),
    ("one-shot-later-than-baseline-loses",
     replace(I60, ai_hint_next_run_at=NOW + 5 * MIN, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL)),
    ("one-shot-competes-with-the-interval-hint",
     replace(I60, ai_hint_interval_ms=30_000, ai_hint_next_run_at=NOW + 10 * SEC, ai_hint_expires_at=FRESH),
     NOW, None, Plan(NOW + 10 * SEC, S.AI_ONESHOT)),
    ("interval-hint-beats-a-later-one-shot",
     replace(I60, ai_hint_interval_ms=30_000, ai_hint_next_run_at=NOW + 50 * SEC, ai_hint_expires_at=FRESH),
     NOW, None, Plan(NOW + 30 * SEC, S.AI_INTERVAL)),
    ("one-shot-beats-a-cron-baseline",
     replace(HOURLY, ai_hint_next_run_at=NOW + 5 * MIN, ai_hint_expires_at=FRESH), NOW + MIN, None, Plan(NOW + 5 * MIN, S.AI_ONESHOT)),
    # 4. past becomes now
    ("one-shot-in-the-past-runs-now",
     replace(I60, ai_hint_next_run_at=NOW - 5 * MIN, ai_hint_expires_at=FRESH), NOW, None, Plan(NOW, S.AI_ONESHOT)),
    ("run-now-request-wins-when-earliest", replace(I60, run_requested_at=NOW), NOW, None, Plan(NOW, S.MANUAL)),
    ("run-now-request-in-the-past-runs-now", replace(I60, run_requested_at=NOW - HOUR), NOW, None, Plan(NOW, S.MANUAL)),
    # 5. clamps
    ("min-floor-is-last-run-plus-min-not-now-plus-min",
     replace(I60, run_requested_at=NOW, last_run_at=NOW - 10 * SEC, min_interval_ms=30_000), NOW, None,
     Plan(NOW + 20 * SEC, S.CLAMPED_MIN)),
    ("run-now-long-after-the-last-run-is-not-delayed-by-min",
     replace(I60, run_requested_at=NOW, last_run_at=NOW - HOUR, min_interval_ms=300_000), NOW, None, Plan(NOW, S.MANUAL)),
    ("min-clamps-a-fast-interval-hint",
     replace(I60, ai_hint_interval_ms=1_000, ai_hint_expires_at=FRESH, last_run_at=NOW, min_interval_ms=20_000),
     NOW, None, Plan(NOW + 20 * SEC, S.CLAMPED_MIN)),
    ("min-without-any-run-floors-at-now",
     replace(I60, ai_hint_next_run_at=NOW - MIN, ai_hint_expires_at=FRESH, min_interval_ms=20_000), NOW, None,
     Plan(NOW, S.AI_ONESHOT)),
    ("max-clamps-a-long-backoff", replace(I60, failure_count=5, max_interval_ms=600_000), NOW, None, Plan(NOW + 10 * MIN, S.CLAMPED_MAX)),
    ("max-clamps-a-sparse-cron", replace(HOURLY, max_interval_ms=900_000), NOW + MIN, None, Plan(NOW + 16 * MIN, S.CLAMPED_MAX)),
    ("max-clamps-a-slow-interval-hint",
     replace(I60, ai_hint_interval_ms=3_600_000, ai_hint_expires_at=FRESH, max_interval_ms=120_000), NOW, None,
     Plan(NOW + 2 * MIN, S.CLAMPED_MAX)),
    # 6. pause wins last
    ("pause-wins-over-the-baseline", replace(I60, paused_until=NOW + 2 * HOUR), NOW, None, Plan(NOW + 2 * HOUR, S.PAUSED)),
    ("pause-wins-over-run-now-and-hints",
     replace(I60, paused_until=NOW + HOUR, run_requested_at=NOW, ai_hint_next_run_at=NOW, ai_hint_expires_at=FRESH),
     NOW, None, Plan(NOW + HOUR, S.PAUSED)),
    ("pause-wins-over-the-max-clamp", replace(I60, paused_until=NOW + HOUR, max_interval_ms=60_000), NOW, None, Plan(NOW + HOUR, S.PAUSED)),
    ("a-pause-that-ended-is-ignored", replace(I60, paused_until=NOW - SEC), NOW, None, Plan(NOW + MIN, S.BASELINE_INTERVAL)),
    # DST: America/New_York springs forward 2026-03-08 02:00 -> 03:00 and falls back 2026-11-01 02:00 -> 01:00.
    ("dst-gap-slot-runs-at-the-transition",
     EndpointState(baseline_cron="30 2 * * *", timezone="America/New_York"), ny(2026, 3, 7, 12, 0), None,
     Plan(ny(2026, 3, 8, 3, 0), S.BASELINE_CRON)),
    ("dst-gap-quarter-hour-slots-collapse-into-one-run",
     EndpointState(baseline_cron="*/15 * * * *", timezone="America/New_York"), ny(2026, 3, 8, 1, 50), None,
     Plan(ny(2026, 3, 8, 3, 0), S.BASELINE_CRON)),
    ("dst-after-the-collapsed-run-the-grid-continues",
     EndpointState(baseline_cron="*/15 * * * *", timezone="America/New_York"), ny(2026, 3, 8, 3, 0), ny(2026, 3, 8, 3, 0),
     Plan(ny(2026, 3, 8, 3, 15), S.BASELINE_CRON)),
    ("dst-next-day-after-a-gap-is-back-on-0230",
     EndpointState(baseline_cron="30 2 * * *", timezone="America/New_York"), ny(2026, 3, 8, 3, 0), ny(2026, 3, 8, 3, 0),
     Plan(ny(2026, 3, 9, 2, 30), S.BASELINE_CRON)),
    ("dst-fold-slot-runs-at-its-first-occurrence",
     EndpointState(baseline_cron="30 1 * * *", timezone="America/New_York"), ny(2026, 10, 31, 12, 0), None,
     Plan(ny(2026, 11, 1, 1, 30, fold=0), S.BASELINE_CRON)),
    ("dst-fold-slot-does-not-run-again-in-the-repeated-hour",
     EndpointState(baseline_cron="30 1 * * *", timezone="America/New_York"), ny(2026, 11, 1, 1, 30, fold=0),
     ny(2026, 11, 1, 1, 30, fold=0), Plan(ny(2026, 11, 2, 1, 30), S.BASELINE_CRON)),
    ("dst-hourly-skips-the-second-pass-of-the-fold",
     EndpointState(baseline_cron="0 * * * *", timezone="America/New_York"), ny(2026, 11, 1, 1, 0, fold=0),
     ny(2026, 11, 1, 1, 0, fold=0), Plan(ny(2026, 11, 1, 2, 0), S.BASELINE_CRON)),
    ("dst-after-inside-the-second-pass-goes-to-the-next-new-slot",
     EndpointState(baseline_cron="*/30 * * * *", timezone="America/New_York"), ny(2026, 11, 1, 1, 10, fold=1), None,
     Plan(ny(2026, 11, 1, 2, 0), S.BASELINE_CRON)),
    ("dst-berlin-gap-0230-runs-at-0300-cest",
     EndpointState(baseline_cron="30 2 * * *", timezone="Europe/Berlin"), datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN), None,
     Plan(datetime(2026, 3, 29, 3, 0, tzinfo=BERLIN), S.BASELINE_CRON)),
    ("dst-lord-howe-half-hour-gap-runs-at-the-transition",
     EndpointState(baseline_cron="15 2 * * *", timezone="Australia/Lord_Howe"), datetime(2026, 10, 3, 12, 0, tzinfo=LORD_HOWE), None,
     Plan(datetime(2026, 10, 4, 2, 30, tzinfo=LORD_HOWE), S.BASELINE_CRON)),
]


@pytest.mark.parametrize("state, now, after_slot, expected", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_the_governor_plans_the_next_run(state: EndpointState, now: datetime, after_slot: datetime | None, expected: Plan) -> None:
    plan = plan_next_run(state, now, after_slot=after_slot)
    assert (plan.at, plan.source) == (expected.at, expected.source)
    assert plan.at.utcoffset() == timedelta(0)  # one clock, UTC inside


def test_the_table_covers_at_least_thirty_rules_and_edges() -> None:
    assert len(ROWS) >= 30 and len({r[0] for r in ROWS}) == len(ROWS)


def test_a_success_resets_failures_and_a_failure_counts() -> None:
    state = replace(I60, failure_count=3)
    assert settle_after_run(state, success=True, started_at=NOW, now=NOW).failure_count == 0
    assert settle_after_run(state, success=False, started_at=NOW, now=NOW).failure_count == 4


def test_a_consumed_one_shot_is_cleared_so_it_causes_no_extra_run() -> None:
    state = replace(I60, ai_hint_next_run_at=NOW, ai_hint_expires_at=NOW + 30 * MIN)
    after = settle_after_run(state, success=True, started_at=NOW, now=NOW + SEC)
    assert after.ai_hint_next_run_at is None and after.ai_hint_expires_at is None
    assert plan_next_run(after, NOW + SEC, after_slot=NOW) == Plan(NOW + SEC + MIN, S.BASELINE_INTERVAL)


def test_a_future_one_shot_survives_a_run_before_it() -> None:
    state = replace(I60, ai_hint_next_run_at=NOW + 10 * MIN, ai_hint_expires_at=NOW + 30 * MIN)
    after = settle_after_run(state, success=True, started_at=NOW, now=NOW + SEC)
    assert after.ai_hint_next_run_at == NOW + 10 * MIN


def test_expired_hints_are_cleared_after_a_run() -> None:
    state = replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW - SEC)
    after = settle_after_run(state, success=True, started_at=NOW, now=NOW)
    assert after.ai_hint_interval_ms is None and after.ai_hint_expires_at is None


def test_a_fresh_interval_hint_is_kept_after_a_run() -> None:
    state = replace(I60, ai_hint_interval_ms=5_000, ai_hint_expires_at=NOW + HOUR)
    after = settle_after_run(state, success=True, started_at=NOW, now=NOW + SEC)
    assert after.ai_hint_interval_ms == 5_000 and after.ai_hint_expires_at == NOW + HOUR


def test_a_run_now_made_during_a_run_survives_it_and_runs_next() -> None:
    state = replace(I60, run_requested_at=NOW + 2 * SEC)
    after = settle_after_run(state, success=True, started_at=NOW, now=NOW + 5 * SEC)
    assert after.run_requested_at == NOW + 2 * SEC
    assert plan_next_run(after, NOW + 5 * SEC) == Plan(NOW + 5 * SEC, S.MANUAL)


def test_a_served_run_now_is_consumed() -> None:
    after = settle_after_run(replace(I60, run_requested_at=NOW), success=True, started_at=NOW, now=NOW + SEC)
    assert after.run_requested_at is None and after.last_run_at == NOW
