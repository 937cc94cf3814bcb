"""Idempotent deploy-time registration: declare a job and its endpoints; run it on every deploy.

The job is found by (tenant, name) among jobs that are not archived, endpoints by name within
the job. Missing ones are created; changed ones are updated (`update`), left alone (`skip`) or
refused (`error`). Endpoints that exist but are not declared are left alone: registration
never deletes. Running it twice with the same input changes nothing.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import Engine, select

from shared.endpoints import add_endpoint, spec_of, update_endpoint
from shared.errors import Conflict, FieldError, InvalidInput
from shared.jobs import create_job, find_job_by_name, get_job, update_job
from shared.records import Endpoint, Job
from shared.specs import EndpointSpec, JobSpec, parse
from shared.tables import endpoints

OnConflict = Literal["update", "skip", "error"]


def _as_dict(value: BaseModel | dict[str, Any]) -> dict[str, Any]:
    return value.model_dump(exclude_unset=True) if isinstance(value, BaseModel) else dict(value)


def register(
    engine: Engine, tenant_id: str, now: datetime, job: JobSpec | dict[str, Any],
    endpoint_specs: list[EndpointSpec | dict[str, Any]], on_conflict: OnConflict = "update",
) -> tuple[Job, list[Endpoint]]:
    if on_conflict not in ("update", "skip", "error"):
        raise InvalidInput.one("on_conflict", "must be update, skip or error")
    job_spec: JobSpec = parse(JobSpec, _as_dict(job))
    specs: list[EndpointSpec] = []
    errors: list[FieldError] = []
    for i, raw in enumerate(endpoint_specs):  # validate everything before writing anything
        try:
            specs.append(parse(EndpointSpec, _as_dict(raw)))
        except InvalidInput as exc:
            errors.extend(FieldError(f"endpoints[{i}].{e.field}", e.reason) for e in exc.errors)
    names = [s.name for s in specs]
    errors.extend(FieldError("endpoints", f"name {n!r} appears twice") for n in sorted({n for n in names if names.count(n) > 1}))
    if errors:
        raise InvalidInput(errors)

    with engine.connect() as conn:
        existing_job = find_job_by_name(conn, tenant_id, job_spec.name)
    if existing_job is None:
        saved_job = create_job(engine, tenant_id, now, job_spec.model_dump())
    elif existing_job.description != job_spec.description and on_conflict == "update":
        saved_job = update_job(engine, tenant_id, now, existing_job.id, {"description": job_spec.description})
    elif existing_job.description != job_spec.description and on_conflict == "error":
        raise Conflict(f"job {job_spec.name!r} exists with a different description")
    else:
        saved_job = get_job(engine, tenant_id, existing_job.id)

    with engine.connect() as conn:
        rows = conn.execute(
            select(endpoints).where(endpoints.c.job_id == saved_job.id, endpoints.c.archived_at.is_(None))
        ).all()
    by_name = {r.name: r for r in rows}
    if on_conflict == "error":
        differing = [s.name for s in specs if s.name in by_name and spec_of(by_name[s.name]) != s.model_dump()]
        if differing:
            raise Conflict(f"endpoints differ from the registered ones: {', '.join(differing)}")

    saved: list[Endpoint] = []
    for spec in specs:
        row = by_name.get(spec.name)
        if row is None:
            saved.append(add_endpoint(engine, tenant_id, now, saved_job.id, spec.model_dump()))
        elif on_conflict == "update" and spec_of(row) != spec.model_dump():
            saved.append(update_endpoint(engine, tenant_id, now, row.id, spec.model_dump()))
        else:
            saved.append(Endpoint.from_row(row))
    return saved_job, saved
