"""Retries and Retry-After end to end: real beat, scheduler and execute workers on PostgreSQL.

A target that answers 429 with `Retry-After: 3` is called again no sooner than 3 s later, by a
retry of the same slot (same Idempotency-Key) that the tick claimed from the database: no Celery
countdown holds it. Without the header the retries would come 1 s and 2 s apart (the backoff).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn.producer.client import Cronicorn
from cronicorn.store.tables import runs
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL
from tests.targets import Seen, TargetServer

pytestmark = pytest.mark.e2e

RETRY_AFTER_S = 3
RETRIES = 2


@pytest.fixture
def cluster(pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[Cluster]:
    c = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path)
    yield c
    c.stop()


def calls(target: TargetServer, n: int) -> list[Seen] | None:
    seen = target.requests_to("/status/429")
    return seen if len(seen) >= n else None


def test_a_429_with_retry_after_3_defers_the_next_call_by_at_least_3s(
    cluster: Cluster, target: TargetServer, pg_engine: Engine
) -> None:
    # Given an endpoint that retries twice with a 1 s backoff, whose target is rate limited
    client = Cronicorn(pg_engine)
    job = client.create_job(name="retry-after")
    ep = client.add_endpoint(
        job.id,
        name="limited",
        url=target.url(f"/status/429?retry_after={RETRY_AFTER_S}"),
        baseline_interval_ms=3_600_000,
        retry_max_attempts=RETRIES,
        retry_backoff_ms=1_000,
    )
    client.run_now(ep.id)

    # When real beat and workers run it until its retries are spent
    cluster.start_all()
    try:
        wait_for(lambda: calls(target, RETRIES + 1), 60, "the first call and its retries")
        wait_for(lambda: client.get_endpoint(ep.id).failure_count == 1, 10, "the slot decided")
    except AssertionError:
        print(cluster.logs())
        raise
    seen = calls(target, RETRIES + 1)
    assert seen is not None

    # Then each next call came at least 3 s after the one before, as the target asked,
    gaps = [round(b.at - a.at, 3) for a, b in pairwise(seen)]
    print(f"retry-after e2e: gaps between calls {gaps}")
    assert len(seen) == RETRIES + 1 and all(gap >= RETRY_AFTER_S for gap in gaps), gaps
    # all of them the same slot under one Idempotency-Key,
    assert len({s.headers["Idempotency-Key"] for s in seen}) == 1
    # each attempt its own run, the retries planned by the target's Retry-After,
    with pg_engine.connect() as conn:
        rows = conn.execute(select(runs).where(runs.c.endpoint_id == ep.id).order_by(runs.c.attempt)).all()
    assert [(r.attempt, r.status, r.status_code) for r in rows] == [
        (1, "failed", 429),
        (2, "failed", 429),
        (3, "failed", 429),
    ]
    assert len({r.scheduled_at for r in rows}) == 1
    assert [r.source for r in rows[1:]] == ["retry-after", "retry-after"]
    assert rows[2].notes.startswith(f"retry 2 of {RETRIES} after HTTP 429")
    # and the slot counts one failure, with the next run no sooner than the last Retry-After.
    after = client.get_endpoint(ep.id)
    assert after.retry_slot_at is None and after.failure_count == 1
    assert after.next_run_at is not None and after.not_before_at is not None
    assert after.next_run_at >= after.not_before_at
