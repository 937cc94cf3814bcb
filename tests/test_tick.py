"""The tick claims for its whole interval, each endpoint when it falls due (or `ahead_s` before),
not when the tick began.

The store is real (both engines); time is a hand-moved clock whose `sleep` is the only way it
passes, so each test says exactly when a claim happened relative to its slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.dispatch import tick
from cronicorn.dispatch.tick import Pace, TickResult, run_tick
from cronicorn.producer import control
from cronicorn.redis.flight import tick_flight_held
from cronicorn.redis.keys import tick_flight
from cronicorn.store.claims import Claim
from tests.factories import endpoint_row, make_endpoint, make_job

AHEAD = Pace(interval_s=1.0, batch_size=50, max_claims=1000, gather_s=0.05, poll_s=0.25, ahead_s=0.15)

# Claims exactly when due: most tests here are about when the tick claims; `ahead_s` has its own.
PACE = Pace(interval_s=1.0, batch_size=50, max_claims=1000, gather_s=0.05, poll_s=0.25, ahead_s=0)


class FakeTime:
    """Wall and monotonic time that move together, only when the tick sleeps."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.elapsed = 0.0
        self.on_sleep: Callable[[float], None] = lambda _: None

    def wall(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return self.elapsed

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.elapsed += seconds
        self.on_sleep(self.elapsed)


@pytest.fixture
def fake(now: datetime) -> FakeTime:
    return FakeTime(now)


def at(fake: FakeTime, seconds: float) -> datetime:
    return fake.start + timedelta(seconds=seconds)


class Published:
    def __init__(self, fake: FakeTime) -> None:
        self.fake = fake
        self.rounds: list[tuple[float, list[str]]] = []
        self.claims: list[Claim] = []

    def __call__(self, claims: Sequence[Claim]) -> None:
        self.rounds.append((round(self.fake.elapsed, 6), [c.endpoint_id for c in claims]))
        self.claims.extend(claims)

    def when(self, endpoint_id: str) -> float:
        return next(t for t, ids in self.rounds if endpoint_id in ids)


def tick_once(
    engine: Engine,
    fake: FakeTime,
    published: Published,
    pace: Pace = PACE,
    backlog: Callable[[], bool] | None = None,
) -> TickResult:
    return run_tick(
        engine,
        fake.wall,
        published,
        pace=pace,
        claim_lease_ms=4000,
        monotonic=fake.monotonic,
        sleep=fake.sleep,
        backlog=backlog,
    )


def test_each_endpoint_is_claimed_when_it_falls_due_within_the_interval(engine: Engine, fake: FakeTime) -> None:
    job = make_job(engine, fake.wall())
    due_at = {s: make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, s)) for s in (0.0, 0.3, 0.72)}
    make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 1.5))  # the next tick's
    published = Published(fake)
    result = tick_once(engine, fake, published)
    assert {s: published.when(e) for s, e in due_at.items()} == {0.0: 0.0, 0.3: 0.3, 0.72: 0.72}
    assert result.claimed == 3 and result.rounds == 3
    assert fake.elapsed == pytest.approx(1.0)  # it stayed for its interval, and no longer


def test_work_falling_due_close_together_shares_a_round(engine: Engine, fake: FakeTime) -> None:
    job = make_job(engine, fake.wall())
    first = make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 0.2))
    close = [make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 0.21 + i / 100)) for i in range(3)]
    published = Published(fake)
    tick_once(engine, fake, published)
    # The first round at 0.2 s; the next no earlier than gather_s later, with all three in it.
    assert published.rounds == [(0.2, [first]), (0.25, close)]


def test_an_idle_tick_reads_one_index_entry_per_poll_and_claims_nothing(
    engine: Engine, fake: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_endpoint(engine, fake.wall(), next_run_at=at(fake, 3600))
    reads: list[float] = []
    real = tick.next_due

    def counted(e: Engine) -> datetime | None:
        reads.append(fake.elapsed)
        return real(e)

    monkeypatch.setattr(tick, "next_due", counted)
    published = Published(fake)
    result = tick_once(engine, fake, published)
    assert result.claimed == 0 and published.rounds == []
    assert reads == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])  # the last one finds the deadline


def test_a_run_now_made_elsewhere_is_claimed_within_one_poll(engine: Engine, fake: FakeTime) -> None:
    job = make_job(engine, fake.wall())
    made: list[str] = []

    def someone_presses_run_now(elapsed: float) -> None:
        if elapsed >= 0.3 and not made:
            made.append(make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 0.3)))

    fake.sleep(0.01)  # so the hook sees time pass from the tick's start
    fake.on_sleep = someone_presses_run_now
    published = Published(fake)
    tick_once(engine, fake, published)
    assert made and 0.3 <= published.when(made[0]) <= 0.3 + PACE.poll_s + 0.01


def test_no_round_claims_while_execute_messages_wait_and_the_first_after_claims_all_that_fell_due(
    engine: Engine, fake: FakeTime
) -> None:
    job = make_job(engine, fake.wall())
    for s in (0.0, 0.05, 0.08, 0.2, 0.3, 0.45, 0.75, 0.8, 0.85):
        make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, s))
    waiting = [True, True, True, False, True, False]
    checked: list[float] = []

    def backlog() -> bool:
        checked.append(round(fake.elapsed, 6))
        return waiting.pop(0) if waiting else False

    published = Published(fake)
    pace = Pace(interval_s=1.0, batch_size=50, max_claims=1000, gather_s=0.05, poll_s=0.25, ahead_s=0.25)
    result = tick_once(engine, fake, published, pace, backlog=backlog)
    # The queue is read before each round, gather_s apart while it holds messages; nothing is
    # claimed until it is empty, and then everything due within ahead_s goes out in one round.
    rounds = [(t, len(ids)) for t, ids in published.rounds]
    assert checked[:6] == [0.0, 0.05, 0.1, 0.15, 0.2, 0.25]
    assert rounds == [(0.15, 5), (0.25, 1), (0.5, 1), (0.55, 1), (0.6, 1)]
    assert result.claimed == 9 and result.rounds == 5
    # However long the rounds were put off, no claim was made more than ahead_s before its slot.
    for c in published.claims:
        assert (c.run_at - fake.start).total_seconds() - 0.25 <= published.when(c.endpoint_id) + 1e-6


def test_a_pause_made_while_execute_messages_wait_applies_to_the_work_not_yet_claimed(
    engine: Engine, fake: FakeTime
) -> None:
    job = make_job(engine, fake.wall())
    kept = make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 0.1))
    paused = make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, 0.1))

    def someone_pauses(elapsed: float) -> None:
        if elapsed >= 0.3 and paused not in pauses:
            pauses.append(paused)
            control.pause_endpoint(engine, "default", fake.wall(), paused, fake.wall() + timedelta(hours=1))

    pauses: list[str] = []
    fake.sleep(0.01)
    fake.on_sleep = someone_pauses
    published = Published(fake)
    # The workers are full until 0.5 s: the due work waits in the database, not in the queue.
    tick_once(engine, fake, published, PACE, backlog=lambda: fake.elapsed < 0.48)
    assert pauses == [paused]
    assert published.rounds == [(pytest.approx(0.5), [kept])]
    row = endpoint_row(engine, paused)  # ... and the pause applied to the work still in the database
    assert row.claimed_slot is None and row.next_run_at == row.paused_until


def test_free_slots_are_claimed_ahead_and_say_when_they_are_due(engine: Engine, fake: FakeTime) -> None:
    job = make_job(engine, fake.wall())
    due_at = {s: make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, s)) for s in (0.3, 0.72)}
    published = Published(fake)
    tick_once(engine, fake, published, AHEAD)
    assert {s: published.when(e) for s, e in due_at.items()} == {0.3: pytest.approx(0.15), 0.72: pytest.approx(0.57)}
    # The worker holds each call until its slot: the message says when that is.
    assert {c.endpoint_id: c.run_at for c in published.claims} == {e: at(fake, s) for s, e in due_at.items()}
    assert all(c.lease_until == c.run_at + timedelta(milliseconds=4000) for c in published.claims)


def test_a_claimed_slot_is_never_claimed_again_before_its_lease_ends(engine: Engine, fake: FakeTime) -> None:
    """Claiming ahead is for free slots only: a lapsed claim's holder may send until its lease ends."""
    lease_end = at(fake, 0.3)
    ep = make_endpoint(
        engine, fake.wall(), next_run_at=lease_end, lease_until=lease_end, claimed_slot=at(fake, -4), fence=1
    )
    published = Published(fake)
    tick_once(engine, fake, published, AHEAD)
    assert published.when(ep) >= 0.3
    [claim] = published.claims
    assert claim.run_at == at(fake, published.when(ep)) and claim.fence == 2


def test_the_claim_budget_ends_the_tick_early(engine: Engine, fake: FakeTime) -> None:
    job = make_job(engine, fake.wall())
    for i in range(7):
        make_endpoint(engine, fake.wall(), job_id=job, next_run_at=at(fake, -i))
    published = Published(fake)
    result = tick_once(engine, fake, published, Pace(interval_s=1.0, batch_size=3, max_claims=5))
    assert result.claimed == 5 and [len(ids) for _, ids in published.rounds] == [3, 2]
    assert fake.elapsed == 0.0  # the next tick goes on from here


def test_a_tick_with_no_interval_claims_what_is_due_once(engine: Engine, fake: FakeTime) -> None:
    due = make_endpoint(engine, fake.wall(), next_run_at=at(fake, 0))
    make_endpoint(engine, fake.wall(), next_run_at=at(fake, 0.01))
    published = Published(fake)
    tick_once(engine, fake, published, Pace(interval_s=0, batch_size=10, max_claims=10, ahead_s=0))
    assert published.rounds == [(0.0, [due])] and fake.elapsed == 0.0


def test_one_tick_at_a_time_and_the_next_takes_over_as_it_ends(redis_conn: redis.Redis) -> None:
    order: list[str] = []
    first_in = threading.Event()

    def first() -> None:
        with tick_flight_held(redis_conn, hold_s=5, wait_s=1) as held:
            assert held
            first_in.set()
            time.sleep(0.3)
            order.append("first ends")

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with tick_flight_held(redis_conn, hold_s=5, wait_s=0.05) as held:
        assert not held  # the one before still claims, and this one cannot wait that long
    started = time.monotonic()
    with tick_flight_held(redis_conn, hold_s=5, wait_s=2) as held:
        order.append("second starts")
        assert held
        handover = time.monotonic() - started
    thread.join()
    assert order == ["first ends", "second starts"] and handover < 0.5


def test_a_killed_tick_blocks_the_next_only_until_its_hold_ends(redis_conn: redis.Redis) -> None:
    held_forever = redis_conn.lock(tick_flight(), timeout=0.3)
    assert held_forever.acquire(blocking=False)  # a tick killed while claiming never releases it
    with tick_flight_held(redis_conn, hold_s=5, wait_s=2) as held:
        assert held


def test_without_redis_ticks_claim_side_by_side() -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=9, socket_connect_timeout=0.2)
    with tick_flight_held(unreachable, hold_s=5, wait_s=1) as held:
        assert held
