"""Retries within a slot meet the schedule options, through the real store on both engines.

A retry is the same slot, not a new one: it keeps the slot's (jittered) time and Idempotency-Key,
the slot counts once against `max_runs` when it is decided, a backfill moves on only once its
slot is decided, and a schedule slot's retry keeps to the dates (a backfill's ignores them).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from cronicorn.core.governor import EndpointState, Plan, plan_next_run
from cronicorn.core.model import CatchUp, PlanSource, RetryOn, RunStatus
from cronicorn.core.retries import RetryPolicy, plan_retry
from cronicorn.core.settling import after_slot_of, backfill_run, settle_after_run
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Attempt, idempotency_key
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.run_results import RunResult
from tests.clients import Clock
from tests.test_schedule_lifecycle import add, recorded, row, start, tick

SEC, MIN, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
RETRYING = {"retry_max_attempts": 2, "retry_backoff_ms": 1_000, "retry_backoff_max_ms": 60_000}
NOW = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


def failed(at: datetime) -> RunResult:
    return RunResult(
        status=RunStatus.FAILED, finished_at=at, status_code=503, error_kind="http_status", error_message="HTTP 503"
    )


def attempt_at(engine: Engine, clock: Clock) -> Attempt:
    """The tick at the clock's time claims the one due endpoint, and a worker starts it."""
    [attempt] = start(engine, tick(engine, clock.now), clock.now)
    return attempt


def end(engine: Engine, attempt: Attempt, at: datetime, *, success: bool) -> None:
    result = RunResult(status=RunStatus.SUCCESS, finished_at=at) if success else failed(at)
    assert finish_attempts(engine, [(attempt, result)]) == [True]


def test_a_retried_slot_takes_one_of_max_runs_once_it_is_decided(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, max_runs=2, **RETRYING)
    clock.now = now + MIN
    first = attempt_at(engine, clock)
    end(engine, first, clock.now + SEC, success=False)
    pending = row(engine, ep)
    assert (pending.retry_slot_at, pending.runs_left, pending.ended_at) == (now + MIN, 2, None)  # nothing taken yet
    clock.now = pending.next_run_at
    retry = attempt_at(engine, clock)
    assert (retry.slot, retry.attempt, retry.source) == (now + MIN, 2, "retry")
    end(engine, retry, clock.now + SEC, success=True)
    decided = row(engine, ep)
    assert (decided.runs_left, decided.retry_slot_at, decided.next_run_at) == (1, None, now + 2 * MIN)
    clock.now = now + 2 * MIN
    end(engine, attempt_at(engine, clock), clock.now + SEC, success=True)
    ended = row(engine, ep)
    assert (ended.runs_left, ended.next_run_at) == (0, None) and ended.ended_at is not None
    # Three runs, two slots: max_runs counted the slots.
    assert [(r.scheduled_at, r.attempt) for r in recorded(engine, ep)] == [
        (now + MIN, 1),
        (now + MIN, 2),
        (now + 2 * MIN, 1),
    ]


def test_a_retry_keeps_the_jittered_slot_and_the_grid_goes_on_from_its_grid_slot(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=600_000, jitter_ms=120_000, **RETRYING)
    planned = row(engine, ep)
    grid, slot = planned.grid_slot_at, planned.next_run_at
    assert grid == now + 10 * MIN and grid < slot
    clock.now = slot
    first = attempt_at(engine, clock)
    end(engine, first, clock.now + SEC, success=False)
    pending = row(engine, ep)
    # The retry is a time, never jittered again; the slot's grid slot is kept for the plan after it.
    assert (pending.retry_slot_at, pending.grid_slot_at, pending.next_run_at) == (slot, grid, slot + 2 * SEC)
    clock.now = pending.next_run_at
    retry = attempt_at(engine, clock)
    assert retry.slot == slot and retry.request.idempotency_key == idempotency_key(ep, slot)
    end(engine, retry, clock.now + SEC, success=True)
    after = row(engine, ep)
    assert after.grid_slot_at == now + 20 * MIN and now + 20 * MIN <= after.next_run_at <= now + 22 * MIN


def test_a_backfill_slot_is_retried_as_itself_and_the_backfill_moves_on_once_it_is_decided(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", max_runs=10, **RETRYING)
    client.backfill(ep, now - 2 * HOUR, now)
    clock.now += 2 * SEC
    first = attempt_at(engine, clock)
    assert (first.slot, first.source) == (now - 2 * HOUR, "backfill")
    end(engine, first, clock.now + SEC, success=False)
    pending = row(engine, ep)
    assert (pending.retry_slot_at, pending.backfill_next_at) == (now - 2 * HOUR, now - 2 * HOUR)  # the cursor waits
    # Explain: the retry is the backfill's, and the backfill goes on from its slot once it is decided.
    planned = client.explain(ep, n=2)
    assert [(p.source, p.detail) for p in planned] == [
        ("retry", f"backfill until {now:%Y-%m-%dT%H:%M:%SZ}: its own slot and Idempotency-Key"),
        ("backfill", f"backfill until {now:%Y-%m-%dT%H:%M:%SZ}: its own slot and Idempotency-Key"),
    ]
    assert planned[1].at == now - HOUR
    clock.now = pending.next_run_at
    retry = attempt_at(engine, clock)
    assert (retry.slot, retry.attempt, retry.source) == (now - 2 * HOUR, 2, "retry")
    end(engine, retry, clock.now + SEC, success=True)
    moved = row(engine, ep)
    # The backfill's slot is decided: the cursor moves on; the schedule's count and failures are untouched.
    assert (moved.backfill_next_at, moved.runs_left, moved.failure_count) == (now - HOUR, 10, 0)
    assert (moved.next_run_at, moved.next_run_source, moved.retry_slot_at) == (now - HOUR, "backfill", None)
    clock.now += 2 * SEC
    last = attempt_at(engine, clock)
    end(engine, last, clock.now + SEC, success=True)
    done = row(engine, ep)
    assert (done.backfill_next_at, done.next_run_at, done.next_run_source) == (None, now + HOUR, "baseline-cron")


def test_a_retry_that_would_fall_after_ends_at_is_not_made_and_the_endpoint_ends(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, ends_at=now + MIN + 500 * timedelta(milliseconds=1), **RETRYING)
    clock.now = now + MIN
    end(engine, attempt_at(engine, clock), clock.now + 200 * timedelta(milliseconds=1), success=False)
    after = row(engine, ep)
    # The retry (1 s later) would run after ends_at: the slot is failed, counted, and the schedule is over.
    assert (after.retry_slot_at, after.next_run_at, after.failure_count) == (None, None, 1)
    assert after.ended_at is not None


def test_a_one_off_is_retried_and_ends_once_its_slot_is_decided(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=None, run_at=now + 10 * MIN, **RETRYING)
    clock.now = now + 10 * MIN
    end(engine, attempt_at(engine, clock), clock.now + SEC, success=False)
    pending = row(engine, ep)
    assert (pending.retry_slot_at, pending.ended_at, pending.next_run_source) == (now + 10 * MIN, None, "retry")
    planned = client.explain(ep, n=3)
    assert [(p.source, p.detail) for p in planned] == [("retry", "then ended: its one-off ran")]
    assert planned[0].note is not None and planned[0].note.startswith("retry pending at")
    clock.now = pending.next_run_at
    end(engine, attempt_at(engine, clock), clock.now + SEC, success=True)
    ended = row(engine, ep)
    assert (ended.next_run_at, ended.retry_slot_at) == (None, None) and ended.ended_at is not None
    assert [(r.scheduled_at, r.attempt, r.status) for r in recorded(engine, ep)] == [
        (now + 10 * MIN, 1, "failed"),
        (now + 10 * MIN, 2, "success"),
    ]


# --- the pure rules --------------------------------------------------------------------------
POLICY = RetryPolicy(max_attempts=2, on=frozenset({RetryOn.SERVER_ERROR}))
I60 = EndpointState(baseline_interval_ms=60_000, last_run_at=NOW)


def test_a_schedule_slots_retry_keeps_to_the_dates_and_a_backfill_slots_does_not() -> None:
    def retry(state: EndpointState, *, backfill: bool = False) -> Plan | None:
        made = plan_retry(
            state,
            POLICY,
            NOW,
            failure=RetryOn.SERVER_ERROR,
            retries_done=0,
            slot=NOW,
            started_at=NOW,
            backfill=backfill,
        )
        return None if made is None else made.plan

    assert retry(I60) == Plan(NOW + SEC, PlanSource.RETRY)
    ending = EndpointState(baseline_interval_ms=60_000, last_run_at=NOW, ends_at=NOW + SEC / 2)
    assert retry(ending) is None
    assert retry(ending, backfill=True) == Plan(NOW + SEC, PlanSource.RETRY)
    assert retry(EndpointState(baseline_interval_ms=60_000, last_run_at=NOW, runs_left=0)) is None
    assert retry(EndpointState(baseline_interval_ms=60_000, last_run_at=NOW, starts_at=NOW + HOUR)) is None


def test_settling_counts_a_slot_once_and_tells_a_backfill_slots_retry_by_its_slot() -> None:
    counted = EndpointState(baseline_interval_ms=60_000, runs_left=3, failure_count=1)
    pending = settle_after_run(counted, success=False, final=False, started_at=NOW, now=NOW + SEC)
    assert (pending.runs_left, pending.failure_count) == (3, 1)
    decided = settle_after_run(pending, success=False, started_at=NOW + 2 * SEC, now=NOW + 3 * SEC)
    assert (decided.runs_left, decided.failure_count) == (2, 2)

    cursor = NOW - HOUR
    backfilling = EndpointState(
        baseline_interval_ms=60_000, runs_left=3, backfill_next_at=cursor, backfill_until=cursor + 5 * MIN
    )
    assert backfill_run(backfilling, cursor, "retry") and backfill_run(backfilling, cursor, "retry-after")
    assert not backfill_run(backfilling, NOW, "retry") and not backfill_run(backfilling, cursor, "manual")
    assert after_slot_of(cursor, "retry", backfilling) is None and after_slot_of(NOW, "retry", backfilling) == NOW
    held = settle_after_run(
        backfilling, success=False, final=False, started_at=NOW, now=NOW, slot=cursor, source="backfill"
    )
    assert (held.backfill_next_at, held.runs_left, held.last_run_at) == (cursor, 3, NOW)
    moved = settle_after_run(held, success=True, started_at=NOW, now=NOW, slot=cursor, source="retry")
    assert (moved.backfill_next_at, moved.runs_left, moved.failure_count) == (cursor + MIN, 3, 0)


def test_the_targets_not_before_never_moves_a_slot_that_keeps_its_past_time() -> None:
    held = NOW + HOUR
    # A backfill's next slot and a catch-up replay run as their own past slots (rules 0 and 4) ...
    backfilling = EndpointState(
        baseline_interval_ms=60_000,
        last_run_at=NOW,
        backfill_next_at=NOW - HOUR,
        backfill_until=NOW,
        not_before_at=held,
    )
    assert plan_next_run(backfilling, NOW + SEC) == Plan(NOW - HOUR, PlanSource.BACKFILL)
    replaying = EndpointState(baseline_interval_ms=15_000, last_run_at=NOW, catch_up=CatchUp.ALL, not_before_at=held)
    assert plan_next_run(replaying, NOW + SEC, after_slot=NOW - 50 * SEC) == Plan(NOW - 35 * SEC, PlanSource.CATCH_UP)
    # ... while the schedule's own next slot waits for the target.
    assert plan_next_run(replace(replaying, catch_up=CatchUp.COALESCE), NOW + SEC, after_slot=NOW - 50 * SEC) == Plan(
        held, PlanSource.RETRY_AFTER
    )
