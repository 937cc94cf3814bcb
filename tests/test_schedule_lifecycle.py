"""Schedule options through the real store, on both engines: claim, start, finish, as the workers do.

Each test drives the tick (`claim_due` then `skip_missed`), the fenced start and the fenced finish
by hand with a clock it moves, and checks what the rows say: the slots claimed (so the
Idempotency-Keys sent), the runs recorded, and the next run planned or the endpoint ended.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cronicorn.core.errors import Conflict
from cronicorn.core.model import RunStatus
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Attempt, Leases, Order, begin_attempts, idempotency_key
from cronicorn.store.claims import Claim, claim_due
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.missed import skip_missed
from cronicorn.store.run_results import RunResult
from cronicorn.store.tables import endpoints, runs
from tests.clients import Clock

SEC, MIN, HOUR, DAY = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


def tick(engine: Engine, now: datetime) -> list[Claim]:
    """What beat's tick publishes: the due claims, less those released as missed."""
    return skip_missed(engine, claim_due(engine, now, limit=50), now)


def start(engine: Engine, claims: list[Claim], now: datetime) -> list[Attempt]:
    orders = [Order(c.endpoint_id, c.fence) for c in claims]
    return begin_attempts(engine, orders, now, leases=Leases(), take_locks=set).attempts


def finish(engine: Engine, attempts: list[Attempt], at: datetime, *, success: bool = True) -> None:
    status = RunStatus.SUCCESS if success else RunStatus.FAILED
    assert all(finish_attempts(engine, [(a, RunResult(status=status, finished_at=at))]) for a in attempts)


def run_due(engine: Engine, clock: Clock, *, took: timedelta = SEC, success: bool = True) -> list[Attempt]:
    """One tick at the clock's time, every claim started at once and finished `took` later."""
    attempts = start(engine, tick(engine, clock.now), clock.now)
    finish(engine, attempts, clock.now + took, success=success)
    return attempts


def row(engine: Engine, endpoint_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id)).one()


def recorded(engine: Engine, endpoint_id: str) -> list[Any]:
    with engine.connect() as conn:
        query = select(runs).where(runs.c.endpoint_id == endpoint_id).order_by(runs.c.started_at, runs.c.scheduled_at)
        return list(conn.execute(query))


def add(client: Cronicorn, **fields: Any) -> str:
    job = client.create_job(name=f"j{fields.get('name', '')}")
    spec = {"name": "e", "url": "https://api.example.com/x", "baseline_interval_ms": 60_000, **fields}
    return client.add_endpoint(job.id, spec).id


def test_max_runs_counts_down_each_finished_run_and_ends_the_endpoint_at_zero(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, max_runs=2)
    assert row(engine, ep).runs_left == 2
    clock.now = now + MIN
    run_due(engine, clock, success=False)  # a failed run counts too: it was one of the runs
    assert (row(engine, ep).runs_left, row(engine, ep).next_run_at) == (1, now + 3 * MIN)  # backoff: 2 x 60 s
    clock.now = now + 3 * MIN
    run_due(engine, clock)
    ended = row(engine, ep)
    assert (ended.runs_left, ended.next_run_at, ended.next_run_source) == (0, None, None)
    assert ended.ended_at == now + 3 * MIN + SEC and ended.claimed_slot is None
    clock.now = now + HOUR
    assert tick(engine, clock.now) == [] and client.explain(ep) == []
    with pytest.raises(Conflict, match="ended"):
        client.run_now(ep)
    # Declaring the same count again restarts nothing; a new count revives it at once.
    assert client.update_endpoint(ep, max_runs=2).runs_left == 0
    revived = client.update_endpoint(ep, max_runs=5)
    assert (revived.runs_left, revived.ended_at, revived.next_run_at) == (5, None, now + HOUR + MIN)


def test_ends_at_ends_the_endpoint_after_its_last_slot_and_a_later_date_revives_it(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, ends_at=now + 150 * SEC)
    for k in (1, 2):
        clock.now = now + k * MIN
        [attempt] = run_due(engine, clock)
        assert attempt.slot == now + k * MIN
    ended = row(engine, ep)
    assert (ended.next_run_at, ended.ended_at) == (None, now + 2 * MIN + SEC)
    revived = client.update_endpoint(ep, ends_at=now + HOUR)
    assert (revived.ended_at, revived.next_run_at) == (None, now + 3 * MIN)


def test_nothing_runs_before_starts_at(client: Cronicorn, engine: Engine, clock: Clock, now: datetime) -> None:
    ep = add(client, starts_at=now + HOUR)
    clock.now = now + 30 * MIN
    assert tick(engine, clock.now) == []
    with pytest.raises(Conflict, match="starts at"):
        client.run_now(ep)
    clock.now = now + HOUR
    [attempt] = run_due(engine, clock)
    assert (attempt.slot, attempt.source) == (now + HOUR, "starts-at")
    assert row(engine, ep).next_run_at == now + HOUR + MIN  # and the grid starts there


def test_a_one_off_runs_once_at_its_time_and_then_ends(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=None, run_at=now + 10 * MIN)
    assert (row(engine, ep).next_run_at, row(engine, ep).next_run_source) == (now + 10 * MIN, "one-off")
    clock.now = now + 10 * MIN
    [attempt] = run_due(engine, clock, success=False)  # a failure does not make it run again
    assert (attempt.slot, attempt.source) == (now + 10 * MIN, "one-off")
    assert (row(engine, ep).next_run_at, row(engine, ep).ended_at) == (None, now + 10 * MIN + SEC)
    clock.now = now + DAY
    assert tick(engine, clock.now) == []
    assert [r.status for r in recorded(engine, ep)] == ["failed"]


def test_a_backfill_runs_each_past_slot_once_in_order_as_its_own_run_then_the_schedule_resumes(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=None, baseline_cron="0 * * * *", max_runs=10)
    client.backfill(ep, now - 3 * HOUR, now)
    slots = []
    for _ in range(3):
        clock.now += 2 * SEC
        [attempt] = run_due(engine, clock, success=False)
        slots.append(attempt.slot)
        assert attempt.source == "backfill" and attempt.request.idempotency_key == idempotency_key(ep, attempt.slot)
    assert slots == [now - 3 * HOUR, now - 2 * HOUR, now - HOUR]
    after = row(engine, ep)
    # Backfill runs are not the schedule's: the count and the failures are untouched, the cursor is gone.
    assert (after.runs_left, after.failure_count, after.backfill_next_at, after.backfill_until) == (10, 0, None, None)
    assert (after.next_run_at, after.next_run_source) == (now + HOUR, "baseline-cron")
    assert [(r.scheduled_at, r.source, r.attempt) for r in recorded(engine, ep)] == [(s, "backfill", 1) for s in slots]


def test_a_backfill_waits_for_an_attempt_in_flight_and_never_overlaps_it(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client)
    clock.now = now + MIN
    in_flight = start(engine, tick(engine, clock.now), clock.now)
    client.backfill(ep, now - 2 * MIN, now)
    assert tick(engine, clock.now + SEC) == []  # the claim in flight still holds the endpoint
    finish(engine, in_flight, clock.now + 5 * SEC)
    assert row(engine, ep).next_run_at == now - 2 * MIN  # the backfill goes next, at once
    clock.now += 6 * SEC
    assert [a.slot for a in run_due(engine, clock)] == [now - 2 * MIN]


def test_jitter_moves_the_claimed_slot_and_the_grid_continues_unjittered(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=600_000, jitter_ms=120_000)
    first = row(engine, ep)
    assert first.grid_slot_at == now + 10 * MIN and now + 10 * MIN < first.next_run_at <= now + 12 * MIN
    clock.now = first.next_run_at
    claims = claim_due(engine, clock.now, limit=5)
    assert [c.slot for c in claims] == [first.next_run_at]
    # A claim nobody started is claimed again after its lease: the same jittered slot, so the same key.
    clock.now += 5 * SEC
    [again] = tick(engine, clock.now)
    assert again.slot == first.next_run_at
    [attempt] = start(engine, [again], clock.now)
    assert attempt.request.idempotency_key == idempotency_key(ep, first.next_run_at)
    finish(engine, [attempt], clock.now + SEC)
    second = row(engine, ep)
    assert second.grid_slot_at == now + 20 * MIN and now + 20 * MIN <= second.next_run_at <= now + 22 * MIN


def test_catch_up_skip_releases_a_slot_missed_in_an_outage_unrun_and_records_it(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    skipping = add(client, name="s", catch_up="skip")
    coalescing = add(client, name="c")
    clock.now = now + 5 * MIN + 10 * SEC  # the scheduler was down from just before +1 min
    published = tick(engine, clock.now)
    assert [c.endpoint_id for c in published] == [coalescing]  # one late run; the other skips
    finish(engine, start(engine, published, clock.now), clock.now + SEC)
    missed = row(engine, skipping)
    assert (missed.next_run_at, missed.claimed_slot) == (now + 6 * MIN, None)  # the next slot still ahead
    [record] = recorded(engine, skipping)
    assert (record.status, record.error_kind, record.scheduled_at) == ("canceled", "missed", now + MIN)
    assert "catch_up is skip" in record.error_message
    # A slot merely late (its next slot not due yet) still runs under skip.
    clock.now = now + 6 * MIN + 40 * SEC
    assert skipping in [c.endpoint_id for c in tick(engine, clock.now)]
    assert len(recorded(engine, skipping)) == 1


def test_catch_up_all_replays_each_missed_slot_as_its_own_run(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime
) -> None:
    ep = add(client, baseline_interval_ms=600_000, catch_up="all")
    clock.now = now + 45 * MIN  # down since just before +10 min: +10 (late), +20, +30 and +40 were missed
    slots = []
    for _ in range(4):  # fast calls, one tick apart: each replay keeps its own slot all the same
        [attempt] = run_due(engine, clock, took=200 * timedelta(milliseconds=1))
        slots.append((attempt.slot, attempt.source))
        clock.now += SEC
    assert slots == [
        (now + 10 * MIN, "baseline-interval"),
        (now + 20 * MIN, "catch-up"),
        (now + 30 * MIN, "catch-up"),
        (now + 40 * MIN, "catch-up"),
    ]
    assert (row(engine, ep).next_run_at, row(engine, ep).next_run_source) == (now + 50 * MIN, "baseline-interval")


@pytest.mark.parametrize("overlap, expected", [("skip", 3 * MIN), ("buffer_one", MIN + 80 * SEC)])
def test_a_slot_falling_due_during_the_call_follows_overlap(
    client: Cronicorn, engine: Engine, clock: Clock, now: datetime, overlap: str, expected: timedelta
) -> None:
    ep = add(client, overlap=overlap)
    clock.now = now + MIN
    run_due(engine, clock, took=80 * SEC)  # the call overran the slot at +2 min
    assert row(engine, ep).next_run_at == now + expected
