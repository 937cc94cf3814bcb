"""Retries within a slot, and a target's Retry-After, through the real store on both engines.

A failed call the endpoint retries keeps its slot pending in the database; the tick claims it as
that slot's next attempt, with the same Idempotency-Key; the failure counts once the slot is
decided. No broker delay anywhere: the retry's time is the row's `next_run_at`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine

from cronicorn.core.model import RunStatus
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import Attempt, idempotency_key
from cronicorn.store.claims import Claim, claim_due
from cronicorn.store.finishes import finish_attempts
from cronicorn.store.run_results import RunResult
from tests.clients import Clock
from tests.factories import endpoint_row, make_endpoint, run_rows
from tests.test_attempts import NO_GRACE, begin_one, ok

SEC = timedelta(seconds=1)
RETRYING = {"retry_max_attempts": 2, "retry_backoff_ms": 1_000, "retry_backoff_max_ms": 60_000}


def failed(at: datetime, status: int = 503, headers: dict[str, str] | None = None) -> RunResult:
    return RunResult(
        status=RunStatus.FAILED,
        finished_at=at,
        status_code=status,
        response_headers=headers,
        error_kind="http_status",
        error_message=f"HTTP {status}",
    )


def start(engine: Engine, at: datetime, **kwargs: Any) -> tuple[Claim, Attempt]:
    """The tick claims the one due endpoint at `at`, and a worker starts it."""
    [claim] = claim_due(engine, at, limit=5)
    [attempt] = begin_one(engine, claim.endpoint_id, claim.fence, at, **kwargs).attempts
    return claim, attempt


def test_a_failed_call_is_retried_as_its_slots_next_attempt_and_its_success_counts_no_failure(
    engine: Engine, now: datetime
) -> None:
    # Given an endpoint that retries twice, whose call failed with a 503
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000, **RETRYING)
    _, first = start(engine, now)
    done = now + timedelta(milliseconds=100)
    assert finish_attempts(engine, [(first, failed(done))]) == [True]

    # Then the slot stays pending as a retry, one backoff later, and no failure is counted yet
    row = endpoint_row(engine, ep)
    assert (row.retry_slot_at, row.retry_attempt, row.retry_number) == (now, 2, 1)
    assert row.next_run_at == done + SEC and row.next_run_source == "retry"
    assert row.claimed_slot is None and row.failure_count == 0 and row.retry_reason == "HTTP 503"
    [failed_run] = run_rows(engine, ep)
    assert failed_run.status == "failed" and "retry 1 of 2 planned for" in failed_run.notes

    # When the tick comes: not before the retry's time, then as the same slot's attempt 2
    assert claim_due(engine, done + SEC / 2, limit=5) == []
    claim, retry = start(engine, done + SEC)
    assert (claim.slot, claim.attempt, claim.source) == (now, 2, "retry")
    assert (
        retry.retry == 1 and retry.request.idempotency_key == idempotency_key(ep, now) == first.request.idempotency_key
    )
    assert finish_attempts(engine, [(retry, ok(done + 2 * SEC))]) == [True]

    # Then each attempt is its own run of the slot, and the grid goes on from the slot
    runs = run_rows(engine, ep)
    assert [(r.attempt, r.status, r.scheduled_at) for r in runs] == [(1, "failed", now), (2, "success", now)]
    assert runs[1].notes.startswith("retry 1 of 2 after HTTP 503 (attempt 2 of this slot")
    row = endpoint_row(engine, ep)
    assert row.retry_slot_at is None and row.retry_number == 0 and row.retry_attempt == 0
    assert row.failure_count == 0 and row.next_run_at == now + 60 * SEC and row.next_run_source == "baseline-interval"


def test_a_slot_whose_retries_are_spent_counts_one_failure_and_backs_off_once(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000, failure_count=1, **RETRYING)
    at = now
    for attempt_number in (1, 2, 3):
        claim, attempt = start(engine, at)
        assert (claim.slot, claim.attempt) == (now, attempt_number)
        at = at + timedelta(milliseconds=200)
        finish_attempts(engine, [(attempt, failed(at))])
        row = endpoint_row(engine, ep)
        at = row.next_run_at
        if attempt_number < 3:  # counted only once the slot is decided
            assert row.failure_count == 1 and row.retry_number == attempt_number
    row = endpoint_row(engine, ep)
    # Three failed attempts of one slot are one failure: backoff x4 (2 failures), from the slot's grid.
    assert row.failure_count == 2
    assert row.retry_slot_at is None and row.next_run_at == now + 4 * 60 * SEC
    assert row.next_run_source == "baseline-interval"
    runs = run_rows(engine, ep)
    assert [r.attempt for r in runs] == [1, 2, 3] and {r.scheduled_at for r in runs} == {now}
    assert runs[2].notes.startswith("retry 2 of 2 after HTTP 503") and "planned" not in runs[2].notes


def test_a_crash_during_a_retry_is_the_next_attempt_and_the_numbers_never_collide(
    engine: Engine, now: datetime
) -> None:
    ep = make_endpoint(engine, now, timeout_ms=1000, max_execution_time_ms=1000, **RETRYING)
    _, first = start(engine, now, leases=NO_GRACE)
    finish_attempts(engine, [(first, failed(now))])
    # Retry 1 starts as attempt 2, and its worker dies mid-call.
    t = endpoint_row(engine, ep).next_run_at
    _, lost = start(engine, t, leases=NO_GRACE)
    assert (lost.attempt, lost.retry, lost.lost_before) == (2, 1, 0)
    # One lease later the tick claims the slot again: attempt 3, still retry 1, one attempt lost.
    claim, again = start(engine, t + 5 * SEC, leases=NO_GRACE)
    assert (claim.slot, claim.attempt) == (now, 3)
    assert (again.attempt, again.retry, again.lost_before) == (3, 1, 1)
    finish_attempts(engine, [(again, failed(t + 5 * SEC))])
    # Retry 2 is attempt 4: after the lost one, never on top of it.
    row = endpoint_row(engine, ep)
    assert (row.retry_attempt, row.retry_number) == (4, 2)
    claim, last = start(engine, row.next_run_at, leases=NO_GRACE)
    assert (claim.attempt, last.retry, last.lost_before) == (4, 2, 1)
    finish_attempts(engine, [(last, ok(row.next_run_at))])
    runs = run_rows(engine, ep)
    assert [(r.attempt, r.status) for r in runs] == [(1, "failed"), (2, "abandoned"), (3, "failed"), (4, "success")]
    # A run's notes keep what its start said and add what its finish said.
    assert (
        runs[2].notes.startswith("retry 3 of this slot: attempt 2 lost its lease")
        and "; retry 2 of 2 planned for" in runs[2].notes
    )
    assert runs[3].notes.startswith("retry 2 of 2 after HTTP 503")
    assert endpoint_row(engine, ep).failure_count == 0


def test_a_failure_the_endpoint_does_not_retry_is_final_at_once(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000, retry_on=["timeout"], **RETRYING)
    _, attempt = start(engine, now)
    finish_attempts(engine, [(attempt, failed(now + SEC))])
    row = endpoint_row(engine, ep)
    assert row.retry_slot_at is None and row.failure_count == 1 and row.next_run_at == now + 120 * SEC


def test_a_429s_retry_after_holds_back_its_retry(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000, **RETRYING)
    _, attempt = start(engine, now)
    finish_attempts(engine, [(attempt, failed(now, 429, {"retry-after": "30"}))])
    row = endpoint_row(engine, ep)
    assert row.next_run_at == now + 30 * SEC and row.next_run_source == "retry-after"
    assert row.not_before_at == now + 30 * SEC and row.retry_attempt == 2
    assert "(the target's Retry-After or rate-limit reset)" in run_rows(engine, ep)[0].notes


def test_retry_after_pushes_the_next_run_and_holds_against_run_now_but_not_past_max(
    engine: Engine, now: datetime
) -> None:
    # Without retries, a 503's Retry-After moves the next run no earlier than it says ...
    ep = make_endpoint(engine, now, baseline_interval_ms=60_000)
    _, attempt = start(engine, now)
    finish_attempts(engine, [(attempt, failed(now, 503, {"Retry-After": "300"}))])
    row = endpoint_row(engine, ep)
    assert row.next_run_at == now + 300 * SEC and row.next_run_source == "retry-after" and row.failure_count == 1
    # ... and a run-now or a hint made meanwhile is held to it too.
    client = Cronicorn(engine, clock=Clock(now + SEC))
    assert client.run_now(ep).next_run_at == now + 300 * SEC
    [planned, _] = client.explain(ep, 2)
    assert planned.source == "retry-after" and planned.note is not None
    assert planned.note.startswith(f"the target asked not to be called before {(now + 300 * SEC).isoformat()}")
    # A max interval caps how long a target can hold an endpoint back.
    client.update_endpoint(ep, max_interval_ms=120_000)
    assert client.get_endpoint(ep).next_run_at == now + SEC + 120 * SEC
    # A spent quota holds back even after a success, until its reset.
    other = make_endpoint(engine, now, baseline_interval_ms=10_000)
    _, attempt = claim_and_start_only(engine, other, now)
    done = RunResult(
        status=RunStatus.SUCCESS,
        finished_at=now,
        status_code=200,
        response_headers={"ratelimit-remaining": "0", "ratelimit-reset": "25"},
    )
    finish_attempts(engine, [(attempt, done)])
    assert endpoint_row(engine, other).next_run_at == now + 25 * SEC


def claim_and_start_only(engine: Engine, endpoint_id: str, at: datetime) -> tuple[Claim, Attempt]:
    """Claim and start one endpoint among several due."""
    [claim] = [c for c in claim_due(engine, at, limit=10) if c.endpoint_id == endpoint_id]
    [attempt] = begin_one(engine, endpoint_id, claim.fence, at).attempts
    return claim, attempt


def test_run_now_brings_a_pending_retry_forward_and_an_edit_drops_it(engine: Engine, now: datetime) -> None:
    clock = Clock(now)
    client = Cronicorn(engine, clock=clock)
    job = client.create_job(name="j")
    retrying = {**RETRYING, "retry_backoff_ms": 10_000}
    added = client.add_endpoint(
        job.id, name="e", url="https://api.example.com/x", baseline_interval_ms=60_000, **retrying
    )
    ep, slot = added.id, added.next_run_at
    assert slot is not None
    clock.now = slot
    _, attempt = start(engine, slot)
    finish_attempts(engine, [(attempt, failed(slot, 503))])
    assert client.get_endpoint(ep).retry_slot_at == slot and client.get_endpoint(ep).next_run_at == slot + 10 * SEC

    # Run-now brings the retry forward, and it is still the slot's retry.
    clock.now = slot + 2 * SEC
    read = client.run_now(ep)
    assert read.next_run_at == slot + 2 * SEC and read.retry_slot_at == slot and read.retry_number == 1
    [planned, *_] = client.explain(ep, 3)
    assert planned.note is not None
    assert planned.note.startswith(f"retry pending at {(slot + 2 * SEC).isoformat()}, attempt 2 of 3 of the slot")
    claim, retry = start(engine, slot + 2 * SEC)
    assert (claim.slot, claim.attempt, claim.source, retry.retry) == (slot, 2, "manual", 1)

    # An edit while a retry waits starts afresh from the governor's plan: the retry is dropped.
    finish_attempts(engine, [(retry, failed(slot + 3 * SEC, 429, {"retry-after": "60"}))])
    read = client.get_endpoint(ep)
    assert (read.retry_number, read.next_run_at, read.next_run_source) == (2, slot + 63 * SEC, "retry-after")
    clock.now = slot + 4 * SEC
    read = client.update_endpoint(ep, baseline_interval_ms=30_000)
    assert read.retry_slot_at is None and read.retry_number == 0 and read.failure_count == 0
    assert read.next_run_at == slot + 63 * SEC and read.next_run_source == "retry-after"  # the target's hold stays
    [claim] = claim_due(engine, slot + 63 * SEC, limit=5)
    assert claim.slot == slot + 63 * SEC and claim.attempt == 1
