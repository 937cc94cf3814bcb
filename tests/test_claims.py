"""The claim: atomic, fenced, leased, and only ever touching due rows."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine

from cronicorn.store.attempts import Leases, Order, begin_attempts
from cronicorn.store.claims import claim_due, claim_lease_ms
from cronicorn.store.tables import jobs
from tests.factories import endpoint_row, make_endpoint, make_job, run_rows

LEASE = 4_000  # a claim's lease until a worker starts it


def start(engine: Engine, endpoint_id: str, fence: int, now: datetime) -> None:
    """An execute worker starts the claim (every lock granted: this is the database side)."""
    begin_attempts(engine, [Order(endpoint_id, fence)], now, leases=Leases(), take_locks=set)


def test_it_claims_due_endpoints_and_leaves_future_ones(engine: Engine, now: datetime) -> None:
    due = make_endpoint(engine, now, next_run_at=now - timedelta(seconds=1))
    make_endpoint(engine, now, next_run_at=now + timedelta(seconds=5))
    claims = claim_due(engine, now, limit=10, claim_lease=LEASE)
    assert [c.endpoint_id for c in claims] == [due]
    assert claims[0].slot == now - timedelta(seconds=1)
    assert claims[0].attempt == 1 and claims[0].fence == 1


def test_a_claim_bumps_the_fence_and_moves_next_run_to_the_short_claim_lease(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=90_000, max_execution_time_ms=60_000)
    [claim] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    row = endpoint_row(engine, ep)
    # Not the attempt's long hold (timeout + grace): a claim nobody starts is claimed again soon.
    expected_lease = now + timedelta(milliseconds=LEASE)
    assert row.fence == claim.fence == 1 and row.claim_started_at is None
    assert row.claimed_slot == now and row.lease_until == expected_lease and row.next_run_at == expected_lease


def test_a_claimed_endpoint_is_not_claimed_again_while_its_lease_runs(engine: Engine, now: datetime) -> None:
    make_endpoint(engine, now)
    assert len(claim_due(engine, now, limit=10, claim_lease=LEASE)) == 1
    assert claim_due(engine, now + timedelta(seconds=3), limit=10, claim_lease=LEASE) == []


def test_a_claim_never_started_is_claimed_again_as_the_same_attempt(engine: Engine, now: datetime) -> None:
    """A lost message or a scheduler killed before publishing costs seconds, not a lost attempt."""
    make_endpoint(engine, now)
    [first] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    [second] = claim_due(engine, now + timedelta(seconds=5), limit=10, claim_lease=LEASE)
    assert second.slot == first.slot == now
    assert second.attempt == first.attempt == 1 and second.fence == first.fence + 1


def test_an_unstarted_claim_lease_doubles_per_republish_up_to_a_cap(engine: Engine, now: datetime) -> None:
    """A backlogged execute queue must not grow by a fresh message per claim every few seconds."""
    ep = make_endpoint(engine, now)
    at = now
    leases = []
    for _ in range(7):
        [claim] = claim_due(engine, at, limit=10, claim_lease=LEASE)
        leases.append(int((claim.lease_until - at).total_seconds() * 1000))
        at = claim.lease_until
    assert leases == [4_000, 8_000, 16_000, 32_000, 64_000, 64_000, 64_000]
    assert leases[-1] == claim_lease_ms(LEASE, 99)
    assert endpoint_row(engine, ep).claim_publishes == 6


def test_a_started_claim_whose_lease_ends_is_claimed_again_as_the_next_attempt(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now)
    [first] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    start(engine, ep, first.fence, now)
    [second] = claim_due(engine, now + timedelta(seconds=10), limit=10, claim_lease=LEASE)
    assert second.slot == first.slot == now
    assert second.attempt == 2 and second.fence == first.fence + 1
    row = endpoint_row(engine, ep)
    assert row.claim_started_at is None and row.claim_publishes == 0  # the new claim is not started yet


def test_it_respects_the_batch_limit_oldest_first(engine: Engine, now: datetime) -> None:
    ids = [make_endpoint(engine, now, next_run_at=now - timedelta(seconds=i)) for i in range(5)]
    claims = claim_due(engine, now, limit=3, claim_lease=LEASE)
    assert [c.endpoint_id for c in claims] == [ids[4], ids[3], ids[2]]


def test_endpoints_of_a_paused_job_are_parked_not_claimed(engine: Engine, now: datetime) -> None:
    job = make_job(engine, now, status="paused")
    ep = make_endpoint(engine, now, job_id=job)
    assert claim_due(engine, now, limit=10, claim_lease=LEASE) == []
    assert endpoint_row(engine, ep).next_run_at is None  # never scanned again until resumed


def test_a_paused_endpoint_is_parked_until_its_pause_ends(engine: Engine, now: datetime) -> None:
    until = now + timedelta(hours=1)
    ep = make_endpoint(engine, now, paused_until=until, paused_by="user")
    assert claim_due(engine, now, limit=10, claim_lease=LEASE) == []
    row = endpoint_row(engine, ep)
    assert row.next_run_at == until and row.next_run_source == "paused"


def test_archived_endpoints_are_never_claimed(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, archived_at=now)
    assert claim_due(engine, now, limit=10, claim_lease=LEASE) == []
    assert endpoint_row(engine, ep).next_run_at is None


def test_parking_a_lost_claim_clears_it_and_fences_its_holder_off(engine: Engine, now: datetime) -> None:
    """An attempt lost while its job was paused must not leave the endpoint claimed for good."""
    job = make_job(engine, now)
    ep = make_endpoint(engine, now, job_id=job)
    [claim] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    start(engine, ep, claim.fence, now)
    with engine.begin() as conn:
        conn.execute(jobs.update().where(jobs.c.id == job).values(status="paused"))
    assert claim_due(engine, now + timedelta(seconds=10), limit=10, claim_lease=LEASE) == []
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.lease_until is None and row.next_run_at is None
    assert row.fence == claim.fence + 1  # the lost attempt's holder can write nothing but its own run
    assert [r.status for r in run_rows(engine, ep)] == ["running"]  # the sweep records it as abandoned


def test_concurrent_claimers_never_claim_one_endpoint_twice(engine: Engine, now: datetime) -> None:
    for i in range(60):
        make_endpoint(engine, now, next_run_at=now - timedelta(milliseconds=i))
    claimed: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claimer() -> None:
        try:
            while True:
                batch = claim_due(engine, now, limit=4, claim_lease=LEASE)
                if not batch:
                    return
                with lock:
                    claimed.extend(c.endpoint_id for c in batch)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(claimed) == 60 and len(set(claimed)) == 60


def test_an_attempt_lost_while_its_job_was_paused_runs_again_after_resume(engine: Engine, now: datetime) -> None:
    """The wedge found by a chaos run: paused job, lost attempt, resume -> running forever, never due."""
    from cronicorn.producer.client import Cronicorn
    from tests.clients import Clock

    clock = Clock(now)
    client = Cronicorn(engine, clock=clock)
    job = client.create_job(name="wedge").id
    ep = client.add_endpoint(job, name="e", url="http://127.0.0.1:9/x", baseline_interval_ms=60_000).id
    client.run_now(ep)
    [claim] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    start(engine, ep, claim.fence, now)  # ... and its worker is killed mid-call
    client.pause_job(job)
    clock.now = now + timedelta(seconds=10)
    assert claim_due(engine, clock.now, limit=10, claim_lease=LEASE) == []  # parked while paused
    client.resume_job(job)
    client.run_now(ep)
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.next_run_at == clock.now
    assert [c.endpoint_id for c in claim_due(engine, clock.now, limit=10, claim_lease=LEASE)] == [ep]


def test_an_edit_after_a_lost_attempt_clears_its_claim_and_plans_at_once(engine: Engine, now: datetime) -> None:
    from cronicorn.producer.client import Cronicorn
    from tests.clients import Clock

    clock = Clock(now)
    client = Cronicorn(engine, clock=clock)
    ep = client.add_endpoint(
        client.create_job(name="j").id, name="e", url="http://127.0.0.1:9/x", baseline_interval_ms=60_000
    ).id
    client.run_now(ep)
    [claim] = claim_due(engine, now, limit=10, claim_lease=LEASE)
    start(engine, ep, claim.fence, now)
    clock.now = now + timedelta(seconds=10)  # the lease ended; no tick has run yet
    client.update_endpoint(ep, url="http://127.0.0.1:9/fixed")
    row = endpoint_row(engine, ep)
    assert row.claimed_slot is None and row.fence == claim.fence + 1 and row.next_run_at is not None
