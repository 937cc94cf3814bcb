"""One execution through the runner: real database, real Redis lock, real local target."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import redis
from sqlalchemy import Engine

from shared.claims import claim_due
from shared.httpcall import HttpCaller
from shared.locks import endpoint_lock_for
from shared.runner import Outcome, Runner, idempotency_key
from shared.ssrf import AddressGuard
from tests.factories import endpoint_row, make_endpoint, run_rows
from tests.targets import TargetServer


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def runner(engine: Engine, redis_conn: redis.Redis) -> Runner:
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"k")
    return Runner(engine=engine, redis=redis_conn, http=http, clock=utcnow, grace_ms=1000, max_attempts=2)


def test_it_calls_the_target_once_stores_the_run_and_plans_the_next(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"), baseline_interval_ms=60_000)
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    assert runner.execute(ep, claim.fence) is Outcome.SUCCESS
    [seen] = target.requests_to("/ok")
    assert seen.headers["Idempotency-Key"] == idempotency_key(ep, claim.slot)
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.status_code == 200 and run.response_body["status"] == "healthy"
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.next_run_at > now


def test_a_redelivered_message_after_the_run_does_nothing(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    assert runner.execute(ep, claim.fence) is Outcome.SUCCESS
    assert runner.execute(ep, claim.fence) is Outcome.STALE
    assert len(target.requests_to("/ok")) == 1 and len(run_rows(engine, ep)) == 1


def test_a_locked_endpoint_is_not_called(runner: Runner, engine: Engine, target: TargetServer, redis_conn: redis.Redis) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    holder = endpoint_lock_for(redis_conn, ep, lease_s=30)
    assert holder.acquire()  # another execution of this endpoint is in flight
    assert runner.execute(ep, claim.fence) is Outcome.LOCKED
    assert target.seen == [] and run_rows(engine, ep) == []
    assert endpoint_row(engine, ep).claimed_slot is not None  # left to its lease, not lost


def test_a_failed_call_is_a_recorded_failed_run_with_backoff(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/status/503"), baseline_interval_ms=10_000)
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    assert runner.execute(ep, claim.fence) is Outcome.FAILED
    [run] = run_rows(engine, ep)
    assert run.status == "failed" and run.error_kind == "http_status" and run.status_code == 503
    row = endpoint_row(engine, ep)
    assert row.failure_count == 1
    assert (row.next_run_at - run.finished_at).total_seconds() == pytest.approx(20, abs=0.01)


def test_a_slot_is_given_up_after_the_attempt_limit(runner: Runner, engine: Engine, target: TargetServer) -> None:
    now = utcnow()
    ep = make_endpoint(engine, now, url=target.url("/ok"), timeout_ms=1000, max_execution_time_ms=1000, claim_attempt=2,
                       claimed_slot=now, lease_until=now, next_run_at=now)
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    assert claim.attempt == 3
    assert runner.execute(ep, claim.fence) is Outcome.GAVE_UP
    assert target.seen == []
    [run] = run_rows(engine, ep)
    assert run.status == "abandoned" and "given up" in run.error_message
    assert endpoint_row(engine, ep).claimed_slot is None


def test_a_tenants_own_signing_keys_sign_its_calls(engine: Engine, redis_conn: redis.Redis, target: TargetServer) -> None:
    from shared.keyring import KeyRing, rotate_signing_key
    from shared.signing import verify
    from shared.tenants import create_tenant
    from tests.factories import make_job

    now = utcnow()
    create_tenant(engine, now, "acme")
    _, old = rotate_signing_key(engine, now, "acme", grace=timedelta(hours=1))
    _, new = rotate_signing_key(engine, now, "acme", grace=timedelta(hours=1))
    http = HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"installation")
    runner = Runner(engine=engine, redis=redis_conn, http=http, clock=utcnow, keyring=KeyRing(engine, b"installation", utcnow))
    ep = make_endpoint(engine, now, job_id=make_job(engine, now, tenant_id="acme"), url=target.url("/ok"))
    [claim] = claim_due(engine, now, limit=1, grace_ms=1000)
    assert runner.execute(ep, claim.fence) is Outcome.SUCCESS
    [seen] = target.requests_to("/ok")
    ts, sig = seen.headers["X-Cronicorn-Timestamp"], seen.headers["X-Cronicorn-Signature"]
    assert sig.count("sha256=") == 2
    assert verify(new.encode(), ts, b"", sig, now=utcnow()) and verify(old.encode(), ts, b"", sig, now=utcnow())
    assert not verify(b"installation", ts, b"", sig, now=utcnow())
