"""Rows for store-level tests, written straight to the tables (the client has its own tests)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from cronicorn.store.tables import endpoints, jobs, runs


def make_job(engine: Engine, now: datetime, **overrides: Any) -> str:
    job_id = str(uuid.uuid4())
    values = {"id": job_id, "name": f"job-{job_id[:8]}", "status": "active", "created_at": now, "updated_at": now}
    values.update(overrides)
    with engine.begin() as conn:
        conn.execute(jobs.insert().values(**values))
    return job_id


def make_endpoint(engine: Engine, now: datetime, job_id: str | None = None, **overrides: Any) -> str:
    job_id = job_id or make_job(engine, now)
    endpoint_id = str(uuid.uuid4())
    values = {
        "id": endpoint_id,
        "job_id": job_id,
        "name": f"ep-{endpoint_id[:8]}",
        "url": "http://127.0.0.1:9/ok",
        "method": "GET",
        "headers": {},
        "baseline_interval_ms": 60_000,
        "timeout_ms": 5_000,
        "max_execution_time_ms": 60_000,
        "max_response_size_kb": 100,
        "next_run_at": now,
        "next_run_source": "baseline-interval",
        "created_at": now,
        "updated_at": now,
    }
    values.update(overrides)
    with engine.begin() as conn:
        conn.execute(endpoints.insert().values(**values))
    return endpoint_id


def endpoint_row(engine: Engine, endpoint_id: str) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(endpoints).where(endpoints.c.id == endpoint_id)).one()


def run_rows(engine: Engine, endpoint_id: str | None = None) -> list[Any]:
    query = select(runs).order_by(runs.c.started_at, runs.c.attempt)
    if endpoint_id is not None:
        query = query.where(runs.c.endpoint_id == endpoint_id)
    with engine.connect() as conn:
        return list(conn.execute(query).all())
