"""Idempotent deploy-time registration: declare a job and its endpoints; run it on every deploy.

The job is found by (tenant, name) among jobs that are not archived, endpoints by name within
the job (archived ones are ignored). Missing ones are created; changed ones are updated
(`update`), left alone (`skip`) or refused (`error`, nothing written). Endpoints that exist but
are not declared are left alone: registration never deletes or archives. Running it twice with
the same input writes nothing (same ids, same `updated_at`, no re-planning). Everything happens
in one transaction: a failure leaves the database as it was.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, select, text

from cronicorn.core.errors import Conflict, FieldError, InvalidInput
from cronicorn.core.tiers import Tier
from cronicorn.producer.dependencies import apply_dependency
from cronicorn.producer.dependency_specs import DependencySpec
from cronicorn.producer.endpoints import apply_endpoint_spec, desired_values, endpoint_row, insert_endpoint
from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.jobs import apply_job_patch, find_job_by_name, insert_job, job_row
from cronicorn.producer.records import Endpoint, Job
from cronicorn.producer.specs import EndpointSpec, JobSpec, parse
from cronicorn.store.tables import endpoints

OnConflict = Literal["update", "skip", "error"]


def _specs(
    job: JobSpec | dict[str, Any], endpoint_specs: list[EndpointSpec | dict[str, Any]], caps: InputCaps | None
) -> tuple[JobSpec, list[EndpointSpec]]:
    """Validate the whole declaration, naming fields as `endpoints[i].field`."""
    errors: list[FieldError] = []
    job_spec: JobSpec | None = None
    try:
        job_spec = parse(JobSpec, job)
    except InvalidInput as exc:
        errors.extend(FieldError(f"job.{e.field}", e.reason) for e in exc.errors)
    if not isinstance(endpoint_specs, (list, tuple)):
        raise InvalidInput([*errors, FieldError("endpoints", "must be a list of endpoint specs")])
    specs: list[EndpointSpec] = []
    for i, raw in enumerate(endpoint_specs):
        try:
            specs.append(parse(EndpointSpec, raw, caps))
        except InvalidInput as exc:
            errors.extend(FieldError(f"endpoints[{i}].{e.field}", e.reason) for e in exc.errors)
    names = [s.name for s in specs]
    errors.extend(
        FieldError("endpoints", f"name {n!r} appears twice") for n in sorted({n for n in names if names.count(n) > 1})
    )
    if errors or job_spec is None:
        raise InvalidInput(errors)
    return job_spec, specs


def _serialise(conn: Connection, tenant_id: str, name: str) -> None:
    """Two deploys registering the same job at once take turns (SQLite's BEGIN IMMEDIATE already does)."""
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"cronicorn-register:{tenant_id}:{name}".encode())
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def register(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    job: JobSpec | dict[str, Any],
    endpoint_specs: list[EndpointSpec | dict[str, Any]],
    on_conflict: OnConflict = "update",
    tier: Tier | None = None,
    caps: InputCaps | None = None,
    *,
    dependencies: Mapping[str, DependencySpec | dict[str, Any]] | None = None,
) -> tuple[Job, list[Endpoint]]:
    """Create or bring up to date a job and its declared endpoints; returns them in declaration order.

    `dependencies` maps a declared endpoint's name to its dependency, whose upstreams are endpoint
    ids or names of endpoints declared here; errors are named `dependencies.<name>.<field>`.
    """
    if on_conflict not in ("update", "skip", "error"):
        raise InvalidInput.one("on_conflict", "must be update, skip or error")
    job_spec, specs = _specs(job, endpoint_specs, caps)
    with engine.begin() as conn:
        _serialise(conn, tenant_id, job_spec.name)
        existing = find_job_by_name(conn, tenant_id, job_spec.name)
        if existing is None:
            job_id = insert_job(conn, tenant_id, now, job_spec)
        else:
            job_id = existing.id
            if existing.description != job_spec.description:
                if on_conflict == "error":
                    raise Conflict(f"job {job_spec.name!r} exists with a different description")
                if on_conflict == "update":
                    apply_job_patch(conn, tenant_id, now, job_id, {"description": job_spec.description})
        rows = conn.execute(
            select(endpoints.c.id, endpoints.c.name)
            .where(endpoints.c.job_id == job_id, endpoints.c.archived_at.is_(None))
            .order_by(endpoints.c.created_at, endpoints.c.id)
        ).all()
        by_name: dict[str, str] = {}
        for row in rows:
            by_name.setdefault(row.name, row.id)
        if on_conflict == "error":
            differing = [
                s.name for s in specs if s.name in by_name and _differs(conn, tenant_id, now, by_name[s.name], s, tier)
            ]
            if differing:
                raise Conflict(f"endpoints differ from the registered ones: {', '.join(differing)}")
        ids = []
        for i, spec in enumerate(specs):
            try:
                if spec.name not in by_name:
                    ids.append(insert_endpoint(conn, tenant_id, now, job_id, spec, tier))
                    continue
                if on_conflict == "update":
                    apply_endpoint_spec(conn, tenant_id, now, by_name[spec.name], spec, tier)
            except InvalidInput as exc:  # a tier limit or an upstream, found while writing: named like the rest
                raise InvalidInput([FieldError(f"endpoints[{i}].{e.field}", e.reason) for e in exc.errors]) from None
            ids.append(by_name[spec.name])
        _declare_dependencies(conn, tenant_id, now, dict(zip([s.name for s in specs], ids, strict=True)), dependencies)
        return (
            Job.from_row(job_row(conn, tenant_id, job_id)),
            [Endpoint.from_row(endpoint_row(conn, tenant_id, i)) for i in ids],
        )


def _differs(
    conn: Connection, tenant_id: str, now: datetime, endpoint_id: str, spec: EndpointSpec, tier: Tier | None
) -> bool:
    row = endpoint_row(conn, tenant_id, endpoint_id)
    values = desired_values(conn, tenant_id, now, row, spec, tier)
    return any(getattr(row, k) != v for k, v in values.items())


def _declare_dependencies(
    conn: Connection,
    tenant_id: str,
    now: datetime,
    ids: dict[str, str],
    declared: Mapping[str, DependencySpec | dict[str, Any]] | None,
) -> None:
    """Declare each endpoint's dependency, upstreams named by id or by declared name."""
    if not declared:
        return
    if not isinstance(declared, Mapping):
        raise InvalidInput.one("dependencies", "must map endpoint names to dependency specs")
    for name, raw in declared.items():
        if name not in ids:
            raise InvalidInput.one(f"dependencies.{name}", "names no endpoint declared here")
        try:
            data = raw.model_dump() if isinstance(raw, DependencySpec) else dict(raw)
            upstreams = data.get("upstream_endpoint_ids")
            if isinstance(upstreams, list):
                data["upstream_endpoint_ids"] = [ids.get(u, u) if isinstance(u, str) else u for u in upstreams]
            apply_dependency(conn, tenant_id, now, ids[name], parse(DependencySpec, data))
        except InvalidInput as exc:
            raise InvalidInput([FieldError(f"dependencies.{name}.{e.field}", e.reason) for e in exc.errors]) from None
        except (TypeError, ValueError):
            raise InvalidInput.one(f"dependencies.{name}", "must be a dependency spec (a mapping)") from None
