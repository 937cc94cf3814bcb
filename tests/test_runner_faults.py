"""The runner under faults: hostile responses, frozen workers, slow calls, an unreachable database.

Real database (both engines unless said), real Redis locks, real local targets. Each test pins
one class of failure found by a chaos run (issue 11) so it cannot come back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from cronicorn.core.clock import utcnow
from cronicorn.dispatch.runner import Outcome, Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.redis.keys import endpoint_lock
from cronicorn.store.attempts import Leases, Order
from cronicorn.store.claims import claim_due
from cronicorn.store.engine import make_engine
from cronicorn.store.finishes import LATE_NOTE
from tests.cluster import wait_for
from tests.factories import endpoint_row, make_endpoint, run_rows
from tests.targets import TargetServer
from tests.tcp_proxy import TcpProxy

HOSTILE = ("nul-text", "nul-json", "surrogate-json", "nul-header", "gzip-zeros")


def make_runner(
    engine: Engine,
    redis_conn: redis.Redis,
    calls: ThreadPoolExecutor,
    *,
    clock: Callable[[], datetime] = utcnow,
    leases: Leases | None = None,
    heartbeat_ms: int = 200,
) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(
        engine=engine,
        redis=redis_conn,
        http=http,
        clock=clock,
        leases=leases or Leases(),
        heartbeat_ms=heartbeat_ms,
        calls=calls,
        store_retry_s=30,
    )


@pytest.fixture
def calls() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(16) as pool:
        yield pool


def run_batch(runner: Runner, engine: Engine, now: datetime, limit: int = 20) -> dict[str, Outcome]:
    claims = claim_due(engine, now, limit=limit)
    return runner.execute_many([Order(c.endpoint_id, c.fence) for c in claims])


def test_a_hostile_response_is_stored_marked_and_never_touches_its_batch(
    engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    now = utcnow()
    normal = make_endpoint(engine, now, url=target.url("/ok"), baseline_interval_ms=60_000)
    hostile = {
        k: make_endpoint(engine, now, url=target.url(f"/hostile?kind={k}"), baseline_interval_ms=60_000)
        for k in HOSTILE
    }
    outcomes = run_batch(make_runner(engine, redis_conn, calls), engine, now)
    assert outcomes == {normal: Outcome.SUCCESS, **{ep: Outcome.SUCCESS for ep in hostile.values()}}
    [ok] = run_rows(engine, normal)
    assert ok.status == "success" and ok.notes is None and ok.response_body["status"] == "healthy"
    for kind, ep in hostile.items():
        [run] = run_rows(engine, ep)
        assert run.status == "success", kind
        assert run.notes is not None and "stored as U+FFFD" in run.notes, kind
        assert endpoint_row(engine, ep).claimed_slot is None, kind  # planned, not left to a lease
    assert run_rows(engine, hostile["nul-text"])[0].response_text == "ok\ufffdtail"
    assert run_rows(engine, hostile["nul-json"])[0].response_body == {"a": "x\ufffdy", "k\ufffd": [1, "\ufffd"]}


def test_a_worker_frozen_between_start_and_send_sends_nothing_after_its_lease(
    engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    """The start is stamped at t; the send check reads t + 10 s: the worker slept through its lease."""
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    readings = iter([now])  # the first reading is the start; every later one is after the freeze

    def clock() -> datetime:
        return next(readings, now + timedelta(seconds=10))

    assert run_batch(make_runner(engine, redis_conn, calls, clock=clock), engine, now) == {ep: Outcome.NOT_SENT}
    assert target.seen == []
    [run] = run_rows(engine, ep)
    assert run.status == "abandoned" and run.error_kind == "not_sent"
    # The claim was left to its (ended) lease: the next tick claims the slot as the next attempt.
    [again] = claim_due(engine, now + timedelta(seconds=10), limit=1)
    assert again.slot == run.scheduled_at and again.attempt == 2


def test_the_heartbeat_keeps_a_slow_call_its_claim_and_no_tick_claims_it_meanwhile(
    engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/slow?ms=2500"), timeout_ms=10_000)
    runner = make_runner(engine, redis_conn, calls, leases=Leases(attempt_ms=1000), heartbeat_ms=200)
    outcomes: dict[str, Outcome] = {}
    batch = threading.Thread(target=lambda: outcomes.update(run_batch(runner, engine, now)))
    batch.start()
    wait_for(lambda: len(target.requests_to("/slow")) == 1, 5, "the call leaves")
    deadline = time.monotonic() + 2
    while batch.is_alive() and time.monotonic() < deadline:
        assert claim_due(engine, utcnow(), limit=5) == []  # its lease (1 s) is renewed, never ends
        time.sleep(0.1)
    batch.join(10)
    assert outcomes == {ep: Outcome.SUCCESS}
    [run] = run_rows(engine, ep)
    assert run.status == "success" and not run.superseded and len(target.requests_to("/slow")) == 1


def test_each_lock_is_released_as_its_call_ends_not_with_the_batch(
    engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    now = utcnow()
    slow = make_endpoint(engine, now, url=target.url("/slow?ms=2000"), timeout_ms=10_000)
    fast = make_endpoint(engine, now, url=target.url("/ok"))
    runner = make_runner(engine, redis_conn, calls)
    batch = threading.Thread(target=lambda: run_batch(runner, engine, now))
    batch.start()
    wait_for(lambda: [r.status for r in run_rows(engine, fast)] == ["success"], 1.5, "fast run stored")
    assert batch.is_alive() and redis_conn.exists(endpoint_lock(slow))
    # The fast endpoint is free at once: its next slot is never refused as locked by its slow sibling.
    wait_for(lambda: not redis_conn.exists(endpoint_lock(fast)), 0.5, "fast lock released")
    batch.join(10)


def test_a_result_stored_after_its_claim_moved_on_says_so(
    engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    """A worker cut off past its lease: the slot is retried, and the late result is kept for what it is."""
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/slow?ms=1500"), timeout_ms=10_000)
    # No heartbeat within the call: as if the worker were frozen or the database unreachable.
    runner = make_runner(engine, redis_conn, calls, leases=Leases(attempt_ms=1000), heartbeat_ms=60_000)
    outcomes: dict[str, Outcome] = {}
    batch = threading.Thread(target=lambda: outcomes.update(run_batch(runner, engine, now)))
    batch.start()
    wait_for(lambda: len(target.requests_to("/slow")) == 1, 5, "the call leaves")
    wait_for(lambda: claim_due(engine, utcnow(), limit=5) != [], 3, "the slot is claimed again")
    batch.join(10)
    assert outcomes == {ep: Outcome.SUPERSEDED}
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.superseded and run.notes is not None and LATE_NOTE in run.notes
    assert endpoint_row(engine, ep).claimed_slot is not None  # the newer claim owns the schedule


@pytest.mark.usefixtures("pg_engine")
def test_a_call_that_completes_while_the_database_is_unreachable_is_stored_when_it_returns(
    pg_engine: Engine, redis_conn: redis.Redis, calls: ThreadPoolExecutor, target: TargetServer
) -> None:
    url = make_url(str(pg_engine.url.render_as_string(hide_password=False)))
    now = utcnow()
    ep = make_endpoint(pg_engine, now, url=target.url("/slow?ms=1000"), timeout_ms=10_000)
    with TcpProxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        cut_off = make_engine(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        runner = make_runner(cut_off, redis_conn, calls)
        outcomes: dict[str, Outcome] = {}
        batch = threading.Thread(target=lambda: outcomes.update(run_batch(runner, cut_off, now)))
        batch.start()
        wait_for(lambda: len(target.requests_to("/slow")) == 1, 5, "the call leaves")
        proxy.cut()  # the call completes while the database cannot be reached
        time.sleep(2)
        assert batch.is_alive() and outcomes == {}
        proxy.restore()
        batch.join(20)
        cut_off.dispose()
    assert outcomes == {ep: Outcome.SUCCESS}
    [run] = run_rows(pg_engine, ep)
    assert run.status == "success" and run.status_code == 200 and not run.superseded
    assert len(target.requests_to("/slow")) == 1  # stored, not called again
