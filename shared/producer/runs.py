"""Reading runs: filtered, paginated, newest first, scoped to a tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, func, select

from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.core.model import RunStatus
from cronicorn.producer.records import Run, RunPage
from cronicorn.producer.storable import check_ids, check_instants
from cronicorn.store.tables import jobs, runs

MAX_LIMIT = 1000


def _check(limit: int, offset: int, status: str | None, since: datetime | None, until: datetime | None) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput.one("limit", f"must be between 1 and {MAX_LIMIT}")
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= 1_000_000_000:
        raise InvalidInput.one("offset", "must be a whole number >= 0")
    if status is not None and status not in {s.value for s in RunStatus}:
        raise InvalidInput.one("status", f"must be one of {', '.join(s.value for s in RunStatus)}")
    check_instants(since=since, until=until)


def list_runs(
    engine: Engine,
    tenant_id: str,
    *,
    endpoint_id: str | None = None,
    job_id: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> RunPage:
    """Runs newest first (by start) with the total matching; `since` inclusive, `until` exclusive."""
    _check(limit, offset, status, since, until)
    check_ids(endpoint_id=endpoint_id, job_id=job_id)
    where = [jobs.c.tenant_id == tenant_id]
    if endpoint_id is not None:
        where.append(runs.c.endpoint_id == endpoint_id)
    if job_id is not None:
        where.append(runs.c.job_id == job_id)
    if status is not None:
        where.append(runs.c.status == status)
    if since is not None:
        where.append(runs.c.started_at >= since)
    if until is not None:
        where.append(runs.c.started_at < until)
    base = select(runs).join(jobs, jobs.c.id == runs.c.job_id).where(*where)
    newest_first = (runs.c.started_at.desc(), runs.c.attempt.desc(), runs.c.id.desc())
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(base.subquery())).scalar_one()
        rows = conn.execute(base.order_by(*newest_first).limit(limit).offset(offset))
        return RunPage(runs=[Run.from_row(r) for r in rows], total=int(total))


def get_run(engine: Engine, tenant_id: str, run_id: str) -> Run:
    """One run of the tenant, with its response."""
    check_ids(run_id=run_id)
    query = (
        select(runs).join(jobs, jobs.c.id == runs.c.job_id).where(runs.c.id == run_id, jobs.c.tenant_id == tenant_id)
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise NotFound("run", run_id)
    return Run.from_row(row)
