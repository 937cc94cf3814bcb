"""Finishing writes that race each other on PostgreSQL: the downstream rows a finish may trigger are
locked with the finishing rows in one global order (by id), so crosswise finishes do not deadlock;
and a deadlock that still happens (or any lost race) is retried as a transient conflict, never
reported as an unreachable database."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from cronicorn.dispatch import runner as runner_module
from cronicorn.dispatch.runner import Outcome, Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Attempt, Leases, Order, begin_attempts
from cronicorn.store.claims import claim_due
from cronicorn.store.finishes import finish_attempts, retry_whole, transient, unreachable
from tests.factories import endpoint_row, make_endpoint, run_rows
from tests.test_attempts import no_locks, ok

pytestmark = pytest.mark.postgres


def started(engine: Engine, now: datetime, ids: list[str]) -> dict[str, Attempt]:
    claims = [c for c in claim_due(engine, now, limit=100) if c.endpoint_id in ids]
    begun = begin_attempts(
        engine, [Order(c.endpoint_id, c.fence) for c in claims], now, leases=Leases(), take_locks=no_locks
    )
    return {a.endpoint_id: a for a in begun.attempts}


def test_crosswise_finishes_that_trigger_each_others_rows_do_not_deadlock(pg_engine: Engine, now: datetime) -> None:
    for _ in range(3):
        crosswise_round(pg_engine, Cronicorn(pg_engine, clock=lambda: now), now)


def crosswise_round(engine: Engine, cron: Cronicorn, now: datetime) -> None:
    # Given A triggers Y and B triggers X, and one worker finishes A with X while another
    # finishes B with Y (each group's own rows are locked first, then its downstream's)
    a, b, x, y = (make_endpoint(engine, now, next_run_at=now, baseline_interval_ms=3_600_000) for _ in range(4))
    cron.set_dependency(y, upstream_endpoint_ids=[a])
    cron.set_dependency(x, upstream_endpoint_ids=[b])
    attempts = started(engine, now, [a, b, x, y])
    assert set(attempts) == {a, b, x, y}
    done = now + timedelta(seconds=1)
    errors: list[BaseException] = []

    def finish(ids: tuple[str, str]) -> None:
        try:
            finish_attempts(engine, [(attempts[i], ok(done)) for i in ids])
        except BaseException as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(exc)

    # Both groups are held at their first lock, then let go at once: their writes overlap
    with engine.connect() as blocker:
        blocker.execute(text("SELECT id FROM endpoints WHERE id IN (:a, :b) FOR UPDATE"), {"a": a, "b": b})
        threads = [threading.Thread(target=finish, args=(ids,)) for ids in ((a, x), (b, y))]
        for t in threads:
            t.start()
        time.sleep(0.3)
        blocker.commit()
    for t in threads:
        t.join(30)
    assert errors == [], errors
    # Then both are stored, and both downstreams were triggered
    assert all(run_rows(engine, e)[0].status == "success" for e in (a, b, x, y))
    assert {endpoint_row(engine, e).next_run_source for e in (x, y)} == {"dependency"}


def real_deadlock(engine: Engine, now: datetime) -> DBAPIError:
    """What PostgreSQL raises when two transactions wait for each other's rows."""
    first, second = make_endpoint(engine, now), make_endpoint(engine, now)
    lock = "UPDATE endpoints SET name = name WHERE id = :id"
    caught: list[DBAPIError] = []
    with engine.connect() as one, engine.connect() as two:
        one.execute(text(lock), {"id": first})
        two.execute(text(lock), {"id": second})

        def cross() -> None:
            try:
                one.execute(text(lock), {"id": second})
            except DBAPIError as exc:
                caught.append(exc)

        thread = threading.Thread(target=cross)
        thread.start()
        time.sleep(0.2)
        try:
            two.execute(text(lock), {"id": first})
        except DBAPIError as exc:
            caught.append(exc)
        one.rollback()
        two.rollback()
        thread.join(10)
    assert len(caught) == 1
    return caught[0]


def test_a_deadlock_is_a_transient_conflict_not_an_unreachable_database(pg_engine: Engine, now: datetime) -> None:
    exc = real_deadlock(pg_engine, now)
    assert transient(exc) and retry_whole(exc)
    assert not unreachable(exc)


def test_the_runner_writes_again_after_a_deadlock_and_says_so(
    pg_engine: Engine,
    redis_conn: redis.Redis,
    now: datetime,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = pg_engine
    deadlock = real_deadlock(engine, now)
    ep = make_endpoint(engine, now, next_run_at=now)
    attempt = started(engine, now, [ep])[ep]
    calls: list[int] = []

    def lose_the_first_race(*args: object) -> list[bool]:
        calls.append(1)
        if len(calls) == 1:
            raise deadlock
        return finish_attempts(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(runner_module, "finish_attempts", lose_the_first_race)
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    runner = Runner(engine=engine, redis=redis_conn, http=http, clock=lambda: now, store_retry_s=5)
    with caplog.at_level(logging.INFO, logger="cronicorn.dispatch.runner"):
        outcomes = runner.store([(attempt, ok(now + timedelta(seconds=1)))])
    assert outcomes == {ep: Outcome.SUCCESS} and len(calls) == 2
    assert "conflicted with another transaction" in caplog.text
    assert "unreachable" not in caplog.text
    assert run_rows(engine, ep)[0].status == "success"
