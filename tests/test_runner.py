"""One execution through the runner: real database, real Redis lock, real local target."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.dispatch.runner import MAX_HOLD, Outcome, Runner
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.redis.keys import endpoint_lock
from cronicorn.redis.locks import EndpointLocks
from cronicorn.store.attempts import LOCKED_RETRY_MS, Leases, Order, idempotency_key
from cronicorn.store.claims import claim_due
from tests.cluster import wait_for
from tests.factories import endpoint_row, make_endpoint, run_rows
from tests.targets import TargetServer


@pytest.fixture
def runner(engine: Engine, redis_conn: redis.Redis) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(
        engine=engine, redis=redis_conn, http=http, clock=utcnow, leases=Leases(grace_ms=1000), max_attempts=2
    )


def test_it_calls_the_target_once_stores_the_run_and_plans_the_next(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"), baseline_interval_ms=60_000)
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.SUCCESS}
    [seen] = target.requests_to("/ok")
    assert seen.headers["Idempotency-Key"] == idempotency_key(ep, claim.slot)
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.status_code == 200 and run.response_body["status"] == "healthy"
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.next_run_at > now


def test_a_redelivered_message_after_the_run_does_nothing(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.SUCCESS}
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.STALE}
    assert len(target.requests_to("/ok")) == 1 and len(run_rows(engine, ep)) == 1


def test_a_locked_endpoint_is_not_called(
    runner: Runner, engine: Engine, target: TargetServer, redis_conn: redis.Redis
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1)
    # Another execution of this endpoint is in flight.
    assert EndpointLocks(redis_conn).acquire({ep: 30_000}, {}) == {ep}
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.LOCKED}
    assert target.seen == [] and run_rows(engine, ep) == []
    row = endpoint_row(engine, ep)
    # Not left to a whole lease: the unstarted claim falls due again in a second.
    assert row.claimed_slot is not None and row.claim_started_at is None
    assert row.next_run_at <= utcnow() + timedelta(milliseconds=LOCKED_RETRY_MS)


def test_a_failed_call_is_a_recorded_failed_run_with_backoff(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/status/503"), baseline_interval_ms=10_000)
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.FAILED}
    [run] = run_rows(engine, ep)
    assert run.status == "failed" and run.error_kind == "http_status" and run.status_code == 503
    row = endpoint_row(engine, ep)
    assert row.failure_count == 1
    assert row.next_run_at == claim.slot + timedelta(seconds=20)  # twice the interval, from the slot


def test_a_slot_is_given_up_after_the_attempt_limit(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(
        engine,
        now,
        url=target.url("/ok"),
        timeout_ms=1000,
        max_execution_time_ms=1000,
        claim_attempt=2,
        claimed_slot=now,
        claim_started_at=now,
        lease_until=now,
        next_run_at=now,
    )
    [claim] = claim_due(engine, now, limit=1)
    assert claim.attempt == 3
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.GAVE_UP}
    assert target.seen == []
    [run] = run_rows(engine, ep)
    assert run.status == "abandoned" and "given up" in run.error_message
    assert endpoint_row(engine, ep).claimed_slot is None


def test_a_tenants_own_signing_keys_sign_its_calls(
    engine: Engine, redis_conn: redis.Redis, target: TargetServer
) -> None:
    from cronicorn.store.signing_keys import KeyRing, rotate_signing_key
    from cronicorn.store.tenants import create_tenant
    from tests.factories import make_job
    from tests.receiver import verifies

    now = utcnow()
    first = create_tenant(engine, now, "acme")["signing_secret"]
    _, new = rotate_signing_key(engine, now, "acme", grace=timedelta(hours=1))
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"installation")
    runner = Runner(
        engine=engine, redis=redis_conn, http=http, clock=utcnow, keyring=KeyRing(engine, b"installation", utcnow)
    )
    ep = make_endpoint(engine, now, job_id=make_job(engine, now, tenant_id="acme"), url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.SUCCESS}
    [seen] = target.requests_to("/ok")
    assert seen.headers["X-Cronicorn-Signature"].count("v1=") == 2  # the first key is in its grace period
    assert verifies(new, seen) and verifies(first, seen)
    assert not verifies(b"installation", seen)


@pytest.fixture
def batch_runner(engine: Engine, redis_conn: redis.Redis) -> Iterator[Runner]:

    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    with ThreadPoolExecutor(8) as calls:
        yield Runner(
            engine=engine,
            redis=redis_conn,
            http=http,
            clock=utcnow,
            leases=Leases(grace_ms=1000),
            max_attempts=2,
            calls=calls,
        )


def test_a_batch_runs_current_claims_and_reports_stale_and_locked_ones(
    batch_runner: Runner, engine: Engine, target: TargetServer, redis_conn: redis.Redis
) -> None:
    now = utcnow()
    ids = [make_endpoint(engine, now, url=target.url(f"/ok?n={i}"), baseline_interval_ms=60_000) for i in range(4)]
    claims = {c.endpoint_id: c for c in claim_due(engine, now, limit=10)}
    holder: dict[str, str] = {}
    assert EndpointLocks(redis_conn).acquire({ids[2]: 30_000}, holder) == {ids[2]}
    orders = [
        Order(ids[0], claims[ids[0]].fence),
        Order(ids[1], claims[ids[1]].fence),
        Order(ids[2], claims[ids[2]].fence),
        Order(ids[3], claims[ids[3]].fence - 1),
    ]
    outcomes = batch_runner.execute_many(orders)
    assert outcomes == {ids[0]: Outcome.SUCCESS, ids[1]: Outcome.SUCCESS, ids[2]: Outcome.LOCKED, ids[3]: Outcome.STALE}
    assert sorted(s.path for s in target.seen) == ["/ok?n=0", "/ok?n=1"]
    for ep in ids[:2]:
        assert [r.status for r in run_rows(engine, ep)] == ["success"]
        assert endpoint_row(engine, ep).claimed_slot is None
    assert run_rows(engine, ids[2]) == [] and endpoint_row(engine, ids[2]).claimed_slot is not None
    assert redis_conn.get(endpoint_lock(ids[2])) == holder[ids[2]].encode()  # the batch released only its own locks
    # The whole batch again (a redelivered message): nothing is called twice.
    target.clear()
    assert set(batch_runner.execute_many(orders[:2]).values()) == {Outcome.STALE}
    assert target.seen == []


def test_a_batch_stores_each_run_as_it_finishes_not_after_the_slowest(
    batch_runner: Runner, engine: Engine, target: TargetServer
) -> None:
    import threading

    from tests.cluster import wait_for

    now = utcnow()
    slow = make_endpoint(engine, now, url=target.url("/slow?ms=3000"), baseline_interval_ms=60_000, timeout_ms=10_000)
    fast = [make_endpoint(engine, now, url=target.url("/ok"), baseline_interval_ms=60_000) for _ in range(3)]
    claims = claim_due(engine, now, limit=10)
    outcomes: dict[str, Outcome] = {}
    batch = threading.Thread(
        target=lambda: outcomes.update(batch_runner.execute_many([Order(c.endpoint_id, c.fence) for c in claims]))
    )
    batch.start()
    # The fast runs are stored (and their next runs planned) while the slow call is still in flight.
    wait_for(
        lambda: all([r.status for r in run_rows(engine, ep)] == ["success"] for ep in fast), 2.5, "fast runs stored"
    )
    assert batch.is_alive() and [r.status for r in run_rows(engine, slow)] == ["running"]
    assert all(endpoint_row(engine, ep).claimed_slot is None for ep in fast)
    batch.join(10)
    assert set(outcomes.values()) == {Outcome.SUCCESS} and len(outcomes) == 4
    [slow_run] = run_rows(engine, slow)
    assert all(run_rows(engine, ep)[0].started_at == slow_run.started_at for ep in fast)  # one start for the batch


def test_a_failed_call_is_retried_in_its_slot_with_the_same_idempotency_key_until_it_succeeds(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    import time

    # Given an endpoint that retries, whose target fails every other call
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/flaky?every=2"), retry_max_attempts=2, retry_backoff_ms=1000)
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.FAILED}
    row = endpoint_row(engine, ep)
    assert row.retry_slot_at == claim.slot and row.next_run_source == "retry" and row.failure_count == 0

    # When the retry falls due, the tick claims the same slot as attempt 2
    time.sleep(max(0.0, (row.next_run_at - utcnow()).total_seconds()) + 0.05)
    [retry] = claim_due(engine, utcnow(), limit=1)
    assert (retry.slot, retry.attempt) == (claim.slot, 2)
    assert runner.execute_many([Order(ep, retry.fence)]) == {ep: Outcome.SUCCESS}

    # Then the target saw the slot twice under one Idempotency-Key, and two runs say so
    first, second = target.requests_to("/flaky")
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"] == idempotency_key(ep, claim.slot)
    assert second.at - first.at >= 1.0  # the backoff, from the database, not a broker countdown
    runs = run_rows(engine, ep)
    assert [(r.attempt, r.status, r.status_code) for r in runs] == [(1, "failed", 503), (2, "success", 200)]
    assert runs[1].notes.startswith("retry 1 of 2 after HTTP 503")
    row = endpoint_row(engine, ep)
    assert row.retry_slot_at is None and row.failure_count == 0 and row.next_run_at == claim.slot + timedelta(minutes=1)


def test_a_429_with_retry_after_holds_the_retry_back_as_the_target_asks(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/status/429?retry_after=3"), retry_max_attempts=1)
    [claim] = claim_due(engine, now, limit=1)
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.FAILED}
    [run] = run_rows(engine, ep)
    assert run.response_headers["retry-after"] == "3"
    row = endpoint_row(engine, ep)
    assert row.next_run_source == "retry-after" and row.next_run_at == row.not_before_at
    assert row.next_run_at >= run.finished_at + timedelta(seconds=3)  # not the 1 s backoff


def test_failure_retries_do_not_count_against_the_lost_attempt_limit(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    # Attempt 3 of a slot whose attempts 1 and 2 failed (the runner gives a slot up after 2 lost ones).
    now = utcnow()
    ep = make_endpoint(
        engine,
        now,
        url=target.url("/ok"),
        retry_max_attempts=2,
        retry_slot_at=now - timedelta(seconds=5),
        retry_attempt=3,
        retry_number=2,
        retry_reason="HTTP 503",
        next_run_at=now,
        next_run_source="retry",
    )
    [claim] = claim_due(engine, now, limit=1)
    assert claim.attempt == 3 and runner.max_attempts == 2
    assert runner.execute_many([Order(ep, claim.fence)]) == {ep: Outcome.SUCCESS}
    assert len(target.requests_to("/ok")) == 1


def test_a_call_claimed_ahead_of_its_slot_is_sent_at_its_slot_not_before(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    now = utcnow()
    slot = now + timedelta(milliseconds=400)
    ep = make_endpoint(engine, now, url=target.url("/ok"), next_run_at=slot)
    [claim] = claim_due(engine, now, limit=1, ahead_ms=500)
    assert claim.run_at == slot == claim.slot
    started = time.monotonic()
    assert runner.execute_many([Order(ep, claim.fence, claim.run_at)]) == {ep: Outcome.SUCCESS}
    [seen] = target.requests_to("/ok")
    # Sent once its slot had come (monotonic time: the wall clock is read once above).
    assert seen.at - started >= (slot - utcnow()).total_seconds() - 0.001
    assert utcnow() >= slot
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.started_at >= slot


def test_a_call_claimed_ahead_is_started_when_its_message_arrives_and_sent_at_its_slot(
    runner: Runner, engine: Engine, target: TargetServer, redis_conn: redis.Redis
) -> None:
    """Starting (fences, the lock, the run's record) happens before the slot, so its round trips
    never make the call late; only the request waits for the slot."""
    now = utcnow()
    slot = now + timedelta(milliseconds=800)
    ep = make_endpoint(engine, now, url=target.url("/ok"), next_run_at=slot)
    [claim] = claim_due(engine, now, limit=1, ahead_ms=900)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.execute_many, [Order(ep, claim.fence, claim.run_at)])
        wait_for(lambda: run_rows(engine, ep), 0.6, "the run recorded while its call waits", poll_s=0.01)
        seen_at = utcnow()
        [run] = run_rows(engine, ep)
        assert seen_at < slot and target.requests_to("/ok") == []
        assert run.status == "running" and run.started_at == slot  # recorded as starting at its slot
        assert redis_conn.get(endpoint_lock(ep)) is not None  # the lock is taken with the start
        assert running.result(timeout=5) == {ep: Outcome.SUCCESS}
    assert len(target.requests_to("/ok")) == 1 and utcnow() >= slot


def test_a_pause_made_while_a_claimed_call_waits_takes_effect_from_the_next_slot(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    """A change leaves a claim alone while its lease runs, as it leaves a call in flight: the
    claimed slot runs, and its finish plans from the paused state."""
    now = utcnow()
    slot = now + timedelta(milliseconds=500)
    ep = make_endpoint(engine, now, url=target.url("/ok"), next_run_at=slot, baseline_interval_ms=1000)
    [claim] = claim_due(engine, now, limit=1, ahead_ms=600)
    client = Cronicorn(engine)
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(runner.execute_many, [Order(ep, claim.fence, claim.run_at)])
        time.sleep(0.1)
        client.pause_endpoint(ep, until=now + timedelta(hours=1))
        assert running.result(timeout=5) == {ep: Outcome.SUCCESS}
    assert len(target.requests_to("/ok")) == 1
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.next_run_at == row.paused_until  # nothing more until then


def test_a_message_from_a_clock_far_ahead_is_held_no_longer_than_the_limit(
    runner: Runner, engine: Engine, target: TargetServer
) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1)
    started = time.monotonic()
    far = now + timedelta(minutes=10)  # a scheduler whose clock is ten minutes ahead
    assert runner.execute_many([Order(ep, claim.fence, far)]) == {ep: Outcome.SUCCESS}
    assert time.monotonic() - started < 2 * MAX_HOLD.total_seconds() + 1
    [run] = run_rows(engine, ep)
    assert run.started_at <= utcnow()  # recorded as when it started, not as the far clock said
