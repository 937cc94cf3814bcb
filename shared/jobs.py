"""Job use cases: create, read, list, update, pause, resume, archive (one transaction each)."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from shared.errors import Conflict, NotFound
from shared.model import JobStatus
from shared.planning import replan
from shared.records import Job
from shared.specs import JobPatch, JobSpec, parse
from shared.tables import endpoints, jobs


def _job_row(conn: Connection, tenant_id: str, job_id: str, *, lock: bool = False) -> Any:
    query = select(jobs).where(jobs.c.id == job_id, jobs.c.tenant_id == tenant_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("job", job_id)
    return row


def create_job(engine: Engine, tenant_id: str, now: datetime, data: dict[str, Any]) -> Job:
    spec: JobSpec = parse(JobSpec, data)
    job_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            jobs.insert().values(
                id=job_id, tenant_id=tenant_id, name=spec.name, description=spec.description,
                status=JobStatus.ACTIVE.value, created_at=now, updated_at=now,
            )
        )
        return Job.from_row(_job_row(conn, tenant_id, job_id))


def get_job(engine: Engine, tenant_id: str, job_id: str) -> Job:
    with engine.connect() as conn:
        return Job.from_row(_job_row(conn, tenant_id, job_id))


def find_job_by_name(conn: Connection, tenant_id: str, name: str) -> Any:
    query = (
        select(jobs)
        .where(jobs.c.tenant_id == tenant_id, jobs.c.name == name, jobs.c.status != JobStatus.ARCHIVED.value)
        .order_by(jobs.c.created_at)
    )
    return conn.execute(query).first()


def list_jobs(engine: Engine, tenant_id: str, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
    query = select(jobs).where(jobs.c.tenant_id == tenant_id)
    if status is not None:
        query = query.where(jobs.c.status == JobStatus(status).value)
    query = query.order_by(jobs.c.created_at, jobs.c.id).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [Job.from_row(r) for r in conn.execute(query)]


def count_jobs(engine: Engine, tenant_id: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(jobs).where(jobs.c.tenant_id == tenant_id)).scalar_one())


def update_job(engine: Engine, tenant_id: str, now: datetime, job_id: str, data: dict[str, Any]) -> Job:
    patch: JobPatch = parse(JobPatch, data)
    values = patch.model_dump(exclude_unset=True)
    if "name" in values and values["name"] is None:
        values.pop("name")
    with engine.begin() as conn:
        row = _job_row(conn, tenant_id, job_id, lock=True)
        if row.status == JobStatus.ARCHIVED.value:
            raise Conflict(f"job {job_id!r} is archived and cannot change")
        if values:
            conn.execute(jobs.update().where(jobs.c.id == job_id).values(updated_at=now, **values))
        return Job.from_row(_job_row(conn, tenant_id, job_id))


def _set_status(engine: Engine, tenant_id: str, now: datetime, job_id: str, status: JobStatus) -> Job:
    with engine.begin() as conn:
        row = _job_row(conn, tenant_id, job_id, lock=True)
        if row.status == JobStatus.ARCHIVED.value:
            raise Conflict(f"job {job_id!r} is archived")
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is JobStatus.ARCHIVED:
            values["archived_at"] = now
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
        ids = conn.execute(select(endpoints.c.id).where(endpoints.c.job_id == job_id, endpoints.c.archived_at.is_(None))).scalars().all()
        # Active: every endpoint re-planned now. Paused/archived: next_run_at cleared, so the
        # tick never scans them (an attempt in flight finishes and then plans nothing).
        for endpoint_id in ids:
            replan(conn, endpoint_id, now, mode="reset")
        return Job.from_row(_job_row(conn, tenant_id, job_id))


def pause_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    return _set_status(engine, tenant_id, now, job_id, JobStatus.PAUSED)


def resume_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    return _set_status(engine, tenant_id, now, job_id, JobStatus.ACTIVE)


def archive_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    return _set_status(engine, tenant_id, now, job_id, JobStatus.ARCHIVED)
