"""Job use cases: create, read, list, update, pause, resume, archive (one transaction each)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, Row, select

from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.core.model import JobStatus
from cronicorn.producer.records import Job
from cronicorn.producer.specs import JobPatch, JobSpec, parse
from cronicorn.producer.storable import check_ids
from cronicorn.store.replanning import lock_endpoint_rows, replan
from cronicorn.store.tables import endpoints, jobs

MAX_PAGE = 1000


def check_page(limit: int, offset: int) -> None:
    """Refuse a page size outside 1..1000 or a negative offset."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput.one("limit", f"must be a whole number between 1 and {MAX_PAGE}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 1_000_000_000:
        raise InvalidInput.one("offset", "must be a whole number >= 0")


def job_row(conn: Connection, tenant_id: str, job_id: str, *, lock: bool = False) -> Row[Any]:
    """The tenant's job row (locked for update if asked), or NotFound."""
    check_ids(job_id=job_id)
    query = select(jobs).where(jobs.c.id == job_id, jobs.c.tenant_id == tenant_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound("job", job_id)
    return row


def insert_job(conn: Connection, tenant_id: str, now: datetime, spec: JobSpec) -> str:
    """Insert an active job inside the caller's transaction; returns its id."""
    job_id = str(uuid.uuid4())
    conn.execute(
        jobs.insert().values(
            id=job_id,
            tenant_id=tenant_id,
            name=spec.name,
            description=spec.description,
            status=JobStatus.ACTIVE.value,
            created_at=now,
            updated_at=now,
        )
    )
    return job_id


def create_job(engine: Engine, tenant_id: str, now: datetime, data: dict[str, Any] | BaseModel) -> Job:
    """Create an active job."""
    spec = parse(JobSpec, data)
    with engine.begin() as conn:
        return Job.from_row(job_row(conn, tenant_id, insert_job(conn, tenant_id, now, spec)))


def get_job(engine: Engine, tenant_id: str, job_id: str) -> Job:
    """One job of the tenant."""
    with engine.connect() as conn:
        return Job.from_row(job_row(conn, tenant_id, job_id))


def find_job_by_name(conn: Connection, tenant_id: str, name: str) -> Row[Any] | None:
    """The oldest job of the tenant with this name that is not archived, or None."""
    query = (
        select(jobs)
        .where(jobs.c.tenant_id == tenant_id, jobs.c.name == name, jobs.c.status != JobStatus.ARCHIVED.value)
        .order_by(jobs.c.created_at, jobs.c.id)
    )
    return conn.execute(query).first()


def list_jobs(
    engine: Engine, tenant_id: str, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[Job]:
    """The tenant's jobs, oldest first, optionally of one status."""
    check_page(limit, offset)
    query = select(jobs).where(jobs.c.tenant_id == tenant_id)
    if status is not None:
        if status not in {s.value for s in JobStatus}:
            raise InvalidInput.one("status", "must be active, paused or archived")
        query = query.where(jobs.c.status == status)
    query = query.order_by(jobs.c.created_at, jobs.c.id).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [Job.from_row(r) for r in conn.execute(query)]


def patch_values(data: dict[str, Any] | BaseModel) -> dict[str, Any]:
    """The columns a validated job patch changes (a None name means "leave it")."""
    values = parse(JobPatch, data).model_dump(exclude_unset=True)
    if values.get("name", "") is None:
        values.pop("name")
    return values


def apply_job_patch(conn: Connection, tenant_id: str, now: datetime, job_id: str, values: dict[str, Any]) -> None:
    """Write a job patch in the caller's transaction; archived jobs refuse (Conflict)."""
    row = job_row(conn, tenant_id, job_id, lock=True)
    if row.status == JobStatus.ARCHIVED.value:
        raise Conflict(f"job {job_id!r} is archived and cannot change")
    changed = {k: v for k, v in values.items() if row._mapping[k] != v}
    if changed:
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(updated_at=now, **changed))


def update_job(engine: Engine, tenant_id: str, now: datetime, job_id: str, data: dict[str, Any] | BaseModel) -> Job:
    """Change a job's name or description."""
    values = patch_values(data)
    with engine.begin() as conn:
        apply_job_patch(conn, tenant_id, now, job_id, values)
        return Job.from_row(job_row(conn, tenant_id, job_id))


def _set_status(engine: Engine, tenant_id: str, now: datetime, job_id: str, status: JobStatus) -> Job:
    with engine.begin() as conn:
        row = job_row(conn, tenant_id, job_id, lock=True)
        if row.status == JobStatus.ARCHIVED.value:
            if status is JobStatus.ARCHIVED:
                return Job.from_row(row)  # archiving twice is a no-op
            raise Conflict(
                f"job {job_id!r} is archived; it cannot be {'resumed' if status is JobStatus.ACTIVE else 'paused'}"
            )
        if row.status == status.value:
            return Job.from_row(row)
        values: dict[str, Any] = {"status": status.value, "updated_at": now}
        if status is JobStatus.ARCHIVED:
            values["archived_at"] = now
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
        ids = (
            conn.execute(select(endpoints.c.id).where(endpoints.c.job_id == job_id, endpoints.c.archived_at.is_(None)))
            .scalars()
            .all()
        )
        # Lock them all first, in id order, as attempts and claims do: locking them one by one
        # in whatever order they came deadlocked against a batch finishing at the same moment.
        lock_endpoint_rows(conn, ids)
        # Active: every endpoint re-planned now. Paused/archived: next_run_at cleared, so the
        # tick never scans them (an attempt in flight finishes and then plans nothing).
        for endpoint_id in sorted(ids):
            replan(conn, endpoint_id, now, mode="reset")
        return Job.from_row(job_row(conn, tenant_id, job_id))


def pause_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    """Stop all of the job's endpoints (next_run_at NULL) until resumed."""
    return _set_status(engine, tenant_id, now, job_id, JobStatus.PAUSED)


def resume_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    """Make the job active again and re-plan each endpoint from now."""
    return _set_status(engine, tenant_id, now, job_id, JobStatus.ACTIVE)


def archive_job(engine: Engine, tenant_id: str, now: datetime, job_id: str) -> Job:
    """Archive the job for good; its endpoints never run again."""
    return _set_status(engine, tenant_id, now, job_id, JobStatus.ARCHIVED)
