"""The fenced start and finish of an attempt, on both engines."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, text

from cronicorn.core.model import RunStatus
from cronicorn.store import sweep
from cronicorn.store.attempts import Leases, Order, Started, begin_attempts, idempotency_key
from cronicorn.store.claims import claim_due
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.run_results import RunResult
from cronicorn.store.sweep import sweep_abandoned
from tests.factories import endpoint_row, make_endpoint, run_rows

NO_GRACE = Leases(grace_ms=0)  # an attempt holds its endpoint for its timeout only


def no_locks(leases: dict[str, int]) -> set[str]:
    """Every endpoint lock granted: these tests are about the database side of an attempt."""
    return set(leases)


def begin_one(engine: Engine, endpoint_id: str, fence: int, now: datetime, *, leases: Leases | None = None) -> Started:
    """What one execute message starts: a batch of one order."""
    return begin_attempts(engine, [Order(endpoint_id, fence)], now, leases=leases or Leases(), take_locks=no_locks)


def ok(at: datetime) -> RunResult:
    return RunResult(
        status=RunStatus.SUCCESS, finished_at=at, duration_ms=12, status_code=200, response_body={"ok": True}
    )


def failed(at: datetime) -> RunResult:
    return RunResult(
        status=RunStatus.FAILED, finished_at=at, status_code=503, error_kind="http_status", error_message="HTTP 503"
    )


def test_a_current_claim_starts_one_running_run(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now)
    [claim] = claim_due(engine, now, limit=1)
    [attempt] = begin_one(engine, ep, claim.fence, now).attempts
    assert attempt is not None and attempt.slot == now and attempt.attempt == 1
    # The request to send, read from the row; signing keys are the runner's to add.
    assert attempt.request.url == "http://127.0.0.1:9/ok" and attempt.request.method == "GET"
    assert attempt.request.idempotency_key == idempotency_key(ep, now) and attempt.request.signing_keys == ()
    assert attempt.tenant_id == "default"
    [run] = run_rows(engine, ep)
    assert run.status == "running" and run.fence == claim.fence and run.source == "baseline-interval"


def test_a_stale_fence_starts_nothing(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000)
    [old] = claim_due(engine, now, limit=1)
    claim_due(engine, now + timedelta(seconds=5), limit=1)  # nobody started it: reclaimed
    assert begin_one(engine, ep, old.fence, now + timedelta(seconds=5), leases=NO_GRACE).stale == {ep}
    assert run_rows(engine, ep) == []


def test_the_same_message_twice_starts_one_run(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now)
    [claim] = claim_due(engine, now, limit=1)
    assert len(begin_one(engine, ep, claim.fence, now).attempts) == 1
    assert begin_one(engine, ep, claim.fence, now).stale == {ep}
    assert len(run_rows(engine, ep)) == 1


def test_finishing_stores_the_result_releases_the_claim_and_plans_the_next_run(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000)
    [claim] = claim_due(engine, now, limit=1)
    [attempt] = begin_one(engine, ep, claim.fence, now).attempts
    assert attempt is not None
    done = now + timedelta(seconds=2)
    assert finish_attempts(engine, [(attempt, ok(done))]) == [True]
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.lease_until is None
    # Fixed-rate: one interval after the slot, whatever the call took (not after `done`).
    assert row.next_run_at == now + timedelta(seconds=60) and row.next_run_source == "baseline-interval"
    assert row.last_run_at == now and row.failure_count == 0
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.response_body == {"ok": True} and not run.superseded


def test_a_failure_counts_and_backs_off(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000, failure_count=2)
    [claim] = claim_due(engine, now, limit=1)
    [attempt] = begin_one(engine, ep, claim.fence, now).attempts
    assert attempt is not None
    assert finish_attempts(engine, [(attempt, failed(now))]) == [True]
    row = endpoint_row(engine, ep)
    assert row.failure_count == 3 and row.next_run_at == now + timedelta(minutes=8)


def test_a_finish_after_the_claim_moved_on_is_stored_but_plans_nothing(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000)
    [claim] = claim_due(engine, now, limit=1)
    [attempt] = begin_one(engine, ep, claim.fence, now, leases=NO_GRACE).attempts
    assert attempt is not None
    later = now + timedelta(seconds=5)
    [newer] = claim_due(engine, later, limit=1)
    assert finish_attempts(engine, [(attempt, ok(later))]) == [False]
    row = endpoint_row(engine, ep)
    assert row.fence == newer.fence and row.claimed_slot == now  # the newer claim still owns it
    [run] = run_rows(engine, ep)
    assert run.status == "success" and run.superseded


def test_a_new_attempt_marks_the_lost_one_abandoned(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000)
    [first] = claim_due(engine, now, limit=1)
    assert len(begin_one(engine, ep, first.fence, now, leases=NO_GRACE).attempts) == 1
    later = now + timedelta(seconds=5)
    [second] = claim_due(engine, later, limit=1)
    assert second.attempt == 2
    assert len(begin_one(engine, ep, second.fence, later, leases=NO_GRACE).attempts) == 1
    lost, current = run_rows(engine, ep)
    assert lost.status == "abandoned" and "lease ended" in lost.error_message
    assert current.notes is not None and "retry 2 of this slot" in current.notes
    assert current.status == "running" and current.attempt == 2 and current.scheduled_at == lost.scheduled_at


def test_the_sweep_abandons_runs_past_their_lease_only(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000)
    keep = make_endpoint(engine, now, timeout_ms=30_000, max_execution_time_ms=60_000)
    claims = claim_due(engine, now, limit=5)
    for c in claims:
        assert len(begin_one(engine, c.endpoint_id, c.fence, now, leases=NO_GRACE).attempts) == 1
    # `ep` holds its endpoint for its 1 s timeout; `keep` for the 4 s heartbeat lease.
    assert sweep_abandoned(engine, now + timedelta(seconds=2)) == 1
    assert run_rows(engine, ep)[0].status == "abandoned"
    assert run_rows(engine, keep)[0].status == "running"
    assert endpoint_row(engine, ep).next_run_at <= now + timedelta(seconds=2)  # due again


def test_the_sweep_never_waits_for_a_run_another_transaction_holds(pg_engine: Engine, now: datetime) -> None:
    """The root of a deadlock seen under overload: a finish holding runs' rows while the sweep took
    them in another order. The sweep skips a held row (it is being finished) and sweeps the rest;
    the next sweep takes it once it is free and still lapsed."""
    eps = [make_endpoint(pg_engine, now, timeout_ms=1000, max_execution_time_ms=1000) for _ in range(3)]
    for c in claim_due(pg_engine, now, limit=5):
        assert len(begin_one(pg_engine, c.endpoint_id, c.fence, now, leases=NO_GRACE).attempts) == 1
    held = run_rows(pg_engine, eps[1])[0].id
    later = now + timedelta(seconds=2)
    with pg_engine.connect() as finishing, ThreadPoolExecutor(1) as other:
        finishing.execute(text("SELECT id FROM runs WHERE id = :id FOR UPDATE"), {"id": held})
        # Before, the sweep blocked here until the holder ended (or deadlocked with it).
        assert other.submit(sweep_abandoned, pg_engine, later).result(timeout=10) == 2
        assert [run_rows(pg_engine, ep)[0].status for ep in eps] == ["abandoned", "running", "abandoned"]
        finishing.rollback()
    assert sweep_abandoned(pg_engine, later) == 1
    assert run_rows(pg_engine, eps[1])[0].status == "abandoned"


def test_a_sweep_after_an_outage_goes_on_past_one_transaction(
    engine: Engine, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sweep, "SWEEP_BATCH", 2)
    eps = [make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000) for _ in range(5)]
    for c in claim_due(engine, now, limit=10):
        assert len(begin_one(engine, c.endpoint_id, c.fence, now, leases=NO_GRACE).attempts) == 1
    assert sweep_abandoned(engine, now + timedelta(seconds=2)) == 5
    assert {run_rows(engine, ep)[0].status for ep in eps} == {"abandoned"}


def test_a_consumed_one_shot_causes_no_extra_run(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(
        engine,
        now,
        baseline_interval_ms=3_600_000,
        ai_hint_next_run_at=now,
        ai_hint_expires_at=now + timedelta(minutes=30),
        ai_hint_reason="recovery",
        next_run_source="ai-oneshot",
    )
    [claim] = claim_due(engine, now, limit=1)
    [attempt] = begin_one(engine, ep, claim.fence, now).attempts
    assert attempt is not None
    assert finish_attempts(engine, [(attempt, ok(now + timedelta(seconds=1)))]) == [True]
    row = endpoint_row(engine, ep)
    assert row.ai_hint_next_run_at is None and row.ai_hint_expires_at is None and row.ai_hint_reason is None
    assert row.next_run_at == now + timedelta(hours=1)


def test_a_batch_finish_plans_the_current_and_flags_the_superseded(engine: Engine, now: datetime) -> None:
    keep = make_endpoint(engine, now, max_execution_time_ms=3_600_000)  # its lease outlasts the test
    lose = make_endpoint(engine, now, max_execution_time_ms=60_000)
    claims = {c.endpoint_id: c for c in claim_due(engine, now, limit=10)}
    # A heartbeat lease longer than the test: as if `keep`'s worker kept renewing it.
    [a_keep] = begin_one(engine, keep, claims[keep].fence, now, leases=Leases(attempt_ms=3_600_000)).attempts
    [a_lose] = begin_one(engine, lose, claims[lose].fence, now, leases=NO_GRACE).attempts
    assert a_keep is not None and a_lose is not None
    later = now + timedelta(minutes=10)
    [reclaimed] = claim_due(engine, later, limit=10)  # only `lose`'s lease ran out
    assert reclaimed.endpoint_id == lose
    assert finish_attempts(engine, [(a_keep, ok(later)), (a_lose, ok(later))]) == [True, False]
    [kept] = run_rows(engine, keep)
    assert kept.status == "success" and not kept.superseded
    # Its call overran its 60 s interval: the missed slots run once, now.
    assert endpoint_row(engine, keep).claimed_slot is None and endpoint_row(engine, keep).next_run_at == later
    [lost] = run_rows(engine, lose)
    assert lost.status == "success" and lost.superseded
    row = endpoint_row(engine, lose)
    assert row.fence == reclaimed.fence and row.claimed_slot is not None  # the newer claim is untouched


def test_a_batch_started_twice_starts_each_run_once(engine: Engine, now: datetime) -> None:
    eps = [make_endpoint(engine, now) for _ in range(3)]
    orders = [Order(c.endpoint_id, c.fence) for c in claim_due(engine, now, limit=10)]
    first = begin_attempts(engine, orders, now, leases=Leases(), take_locks=lambda leases: set(leases))
    assert len(first.attempts) == 3 and not first.stale and not first.locked
    again = begin_attempts(engine, orders, now, leases=Leases(), take_locks=lambda leases: set(leases))
    assert again.attempts == [] and again.stale == set(eps)
    assert all(len(run_rows(engine, ep)) == 1 for ep in eps)
