"""Promise 4: the tick's query reads the due index, so its cost follows due work, not registered work."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import Engine, text

from cronicorn.store.claims import _DUE
from cronicorn.store.tables import endpoints
from tests.factories import make_job


def _register_many(engine: Engine, now: datetime, count: int, due: int) -> None:
    job = make_job(engine, now)
    rows = [
        {
            "id": str(uuid.uuid4()),
            "job_id": job,
            "name": f"e{i}",
            "url": "http://127.0.0.1:9/",
            "method": "GET",
            "headers": {},
            "baseline_interval_ms": 60_000,
            "timeout_ms": 5_000,
            "max_execution_time_ms": 60_000,
            "max_response_size_kb": 100,
            "created_at": now,
            "updated_at": now,
            "next_run_at": now - timedelta(seconds=1) if i < due else now + timedelta(hours=1, seconds=i),
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(endpoints.insert(), rows)


def test_with_many_registered_and_few_due_postgres_reads_the_due_index(pg_engine: Engine, now: datetime) -> None:
    _register_many(pg_engine, now, 20_000, due=5)
    with pg_engine.begin() as conn:
        conn.execute(text("ANALYZE endpoints"))
        sql = f"EXPLAIN {_DUE.compile(pg_engine)}"
        ahead = now + timedelta(milliseconds=150)  # free slots are claimed a moment ahead
        plan = conn.exec_driver_sql(sql, {"now": now, "horizon": ahead, "limit": 100}).scalars().all()
    assert any("ix_endpoints_due" in line for line in plan), "\n".join(plan)
    assert not any("Seq Scan on endpoints" in line for line in plan), "\n".join(plan)


def test_with_many_registered_and_few_due_sqlite_reads_the_due_index(sqlite_engine: Engine, now: datetime) -> None:
    _register_many(sqlite_engine, now, 5_000, due=5)
    with sqlite_engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        sql = f"EXPLAIN QUERY PLAN {_DUE.compile(sqlite_engine)}"
        ahead, at = (t.replace(tzinfo=None).isoformat(" ") for t in (now + timedelta(milliseconds=150), now))
        plan = conn.exec_driver_sql(sql, (ahead, at, 100, 0)).all()
    assert any("ix_endpoints_due" in str(row) for row in plan), plan


def test_starting_an_attempt_never_reads_the_endpoints_run_history(pg_engine: Engine, now: datetime) -> None:
    """The running-runs lookup of every attempt start stays on a partial index however many runs exist."""
    from cronicorn.store.attempts import RUNNING_RUNS
    from tests.factories import make_endpoint

    ep = make_endpoint(pg_engine, now)
    job = make_job(pg_engine, now)
    with pg_engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO runs (id, endpoint_id, job_id, status, scheduled_at, attempt, fence, started_at)
            SELECT gen_random_uuid()::text, :ep, :job, 'success', now() - i * interval '1 second', 1, i, now()
            FROM generate_series(1, 20000) AS i
        """),
            {"ep": ep, "job": job},
        )
        conn.execute(text("ANALYZE runs"))
        sql = RUNNING_RUNS.params(endpoint_ids=[ep]).compile(pg_engine, compile_kwargs={"literal_binds": True})
        plan = conn.exec_driver_sql(f"EXPLAIN {sql}").scalars().all()
    assert any("ix_runs_running_endpoint" in line for line in plan), "\n".join(plan)
