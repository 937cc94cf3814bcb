"""End to end: a backfill through real `celery worker` and `celery beat` processes, real Redis, SQLite.

The target counts what it received: each past slot is called once, in order, with its own
Idempotency-Key, and never while another call of the endpoint is in flight.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import Engine, select

from cronicorn.core.clock import utcnow
from cronicorn.producer.client import Cronicorn
from cronicorn.store.attempts import idempotency_key
from cronicorn.store.tables import runs
from tests.cluster import Cluster, wait_for
from tests.services import REDIS_URL
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e
HOUR = timedelta(hours=1)


def backfill_runs(engine: Engine, endpoint_id: str) -> list[Any]:
    with engine.connect() as conn:
        query = select(runs).where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running")
        return list(conn.execute(query.order_by(runs.c.started_at)))


def test_a_backfill_on_real_workers_calls_each_past_slot_once_in_order_never_overlapping(
    sqlite_engine: Engine, redis_conn: redis.Redis, target: TargetServer, tmp_path: Path
) -> None:
    # Given an hourly endpoint whose next slot is an hour away, and a backfill of the last five hours
    client = Cronicorn(sqlite_engine)
    job = client.create_job(name="backfill")
    ep = client.add_endpoint(job.id, name="b", url=target.url("/slow?ms=300"), baseline_interval_ms=3_600_000)
    now = utcnow()
    since = now - 5 * HOUR + timedelta(minutes=1)
    slots = [since + k * HOUR for k in range(5)]
    client.backfill(ep.id, since, now)
    # When the workers run
    cluster = Cluster(
        database_url=sqlite_engine.url.render_as_string(hide_password=False), redis_url=REDIS_URL, log_dir=tmp_path
    )
    cluster.start_all()
    try:
        wait_for(lambda: len(backfill_runs(sqlite_engine, ep.id)) >= 5, 60, "five backfill runs")
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
    # Then each slot was called once, oldest first, each with its own key, one call at a time
    keys = [k for k in target.idempotency_keys() if k.startswith(ep.id)]
    assert keys == [idempotency_key(ep.id, slot) for slot in slots]
    assert target.max_in_flight(key_prefix=ep.id) == 1
    recorded = backfill_runs(sqlite_engine, ep.id)
    assert [(r.scheduled_at, r.source, r.status, r.attempt) for r in recorded] == [
        (slot, "backfill", "success", 1) for slot in slots
    ]
    assert all(b.started_at >= a.finished_at for a, b in pairwise(recorded))
    # And the schedule resumed from the end of the backfill
    after = client.get_endpoint(ep.id)
    assert (after.backfill_next_at, after.backfill_until, after.next_run_source) == (None, None, "baseline-interval")
    assert after.next_run_at is not None and after.next_run_at > recorded[-1].finished_at + HOUR - timedelta(seconds=2)
