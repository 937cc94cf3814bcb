"""The claim: atomic, fenced, leased, and only ever touching due rows."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import Engine

from cronicorn.store.claims import claim_due, lease_ms
from tests.factories import endpoint_row, make_endpoint, make_job

GRACE = 30_000


def test_it_claims_due_endpoints_and_leaves_future_ones(engine: Engine, now: datetime) -> None:
    due = make_endpoint(engine, now, next_run_at=now - timedelta(seconds=1))
    make_endpoint(engine, now, next_run_at=now + timedelta(seconds=5))
    claims = claim_due(engine, now, limit=10, grace_ms=GRACE)
    assert [c.endpoint_id for c in claims] == [due]
    assert claims[0].slot == now - timedelta(seconds=1)
    assert claims[0].attempt == 1 and claims[0].fence == 1


def test_a_claim_bumps_the_fence_and_moves_next_run_to_the_lease_end(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, timeout_ms=90_000, max_execution_time_ms=60_000)
    [claim] = claim_due(engine, now, limit=10, grace_ms=GRACE)
    row = endpoint_row(engine, ep)
    expected_lease = now + timedelta(milliseconds=lease_ms(90_000, 60_000, GRACE))
    assert expected_lease == now + timedelta(seconds=120)  # timeout + grace beats max_execution_time
    assert row.fence == claim.fence == 1
    assert row.claimed_slot == now and row.lease_until == expected_lease and row.next_run_at == expected_lease


def test_a_claimed_endpoint_is_not_claimed_again_while_its_lease_runs(engine: Engine, now: datetime) -> None:
    make_endpoint(engine, now)
    assert len(claim_due(engine, now, limit=10, grace_ms=GRACE)) == 1
    assert claim_due(engine, now + timedelta(seconds=30), limit=10, grace_ms=GRACE) == []


def test_an_expired_lease_is_claimed_again_for_the_same_slot_as_the_next_attempt(engine: Engine, now: datetime) -> None:
    make_endpoint(engine, now, timeout_ms=1_000, max_execution_time_ms=1_000)
    [first] = claim_due(engine, now, limit=10, grace_ms=1_000)
    [second] = claim_due(engine, now + timedelta(seconds=3), limit=10, grace_ms=1_000)
    assert second.slot == first.slot == now
    assert second.attempt == 2 and second.fence == first.fence + 1


def test_it_respects_the_batch_limit_oldest_first(engine: Engine, now: datetime) -> None:
    ids = [make_endpoint(engine, now, next_run_at=now - timedelta(seconds=i)) for i in range(5)]
    claims = claim_due(engine, now, limit=3, grace_ms=GRACE)
    assert [c.endpoint_id for c in claims] == [ids[4], ids[3], ids[2]]


def test_endpoints_of_a_paused_job_are_parked_not_claimed(engine: Engine, now: datetime) -> None:
    job = make_job(engine, now, status="paused")
    ep = make_endpoint(engine, now, job_id=job)
    assert claim_due(engine, now, limit=10, grace_ms=GRACE) == []
    assert endpoint_row(engine, ep).next_run_at is None  # never scanned again until resumed


def test_a_paused_endpoint_is_parked_until_its_pause_ends(engine: Engine, now: datetime) -> None:
    until = now + timedelta(hours=1)
    ep = make_endpoint(engine, now, paused_until=until, paused_by="user")
    assert claim_due(engine, now, limit=10, grace_ms=GRACE) == []
    assert endpoint_row(engine, ep).next_run_at == until


def test_archived_endpoints_are_never_claimed(engine: Engine, now: datetime) -> None:
    ep = make_endpoint(engine, now, archived_at=now)
    assert claim_due(engine, now, limit=10, grace_ms=GRACE) == []
    assert endpoint_row(engine, ep).next_run_at is None


def test_concurrent_claimers_never_claim_one_endpoint_twice(engine: Engine, now: datetime) -> None:
    for i in range(60):
        make_endpoint(engine, now, next_run_at=now - timedelta(milliseconds=i))
    claimed: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def claimer() -> None:
        try:
            while True:
                batch = claim_due(engine, now, limit=4, grace_ms=GRACE)
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
