"""Endpoint use cases: add, read, list, update, archive, reset failures. Each change re-plans at once.

Pausing and resuming (with the actor who asks) live in `cronicorn.producer.control` beside the hints.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, select

from cronicorn.core.errors import Conflict, FieldError, InvalidInput, NotFound
from cronicorn.core.model import JobStatus
from cronicorn.core.tiers import Tier
from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.jobs import check_page, job_row
from cronicorn.producer.records import Endpoint
from cronicorn.producer.redaction import keep_masked
from cronicorn.producer.specs import ENDPOINT_FIELDS, EndpointPatch, EndpointSpec, merge_endpoint, parse
from cronicorn.producer.storable import check_ids
from cronicorn.producer.tier_checks import apply_tier
from cronicorn.store.claims import NO_RETRY
from cronicorn.store.endpoint_rows import EndpointRow, select_endpoint_rows
from cronicorn.store.graph import refuse_cycle
from cronicorn.store.replanning import replan
from cronicorn.store.tables import endpoints, jobs
from cronicorn.store.watches import replace_watches


def endpoint_row(conn: Connection, tenant_id: str, endpoint_id: str, *, lock: bool = False) -> EndpointRow:
    """The endpoint with its job's status, only if it belongs to the tenant."""
    check_ids(endpoint_id=endpoint_id)
    query = select_endpoint_rows().where(endpoints.c.id == endpoint_id, jobs.c.tenant_id == tenant_id)
    row = conn.execute(query.with_for_update(of=endpoints) if lock else query).first()
    if row is None:
        raise NotFound("endpoint", endpoint_id)
    return EndpointRow.of(row)


def spec_of(row: EndpointRow) -> dict[str, Any]:
    """The declared fields of a stored endpoint, as EndpointSpec would dump them."""
    spec = {name: getattr(row, name) for name in ENDPOINT_FIELDS}
    spec["upstream_endpoint_ids"] = spec["upstream_endpoint_ids"] or []
    return spec


def check_upstreams(conn: Connection, tenant_id: str, endpoint_id: str, upstream_ids: list[str]) -> None:
    """Declared upstreams must be live endpoints of the same tenant, not the endpoint itself, and
    must not lead back to it (a cycle would have the endpoints' analyses trigger each other)."""
    if not upstream_ids:
        return
    found = set(
        conn.execute(
            select(endpoints.c.id)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(endpoints.c.id.in_(upstream_ids), jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        ).scalars()
    )
    errors = []
    for i, upstream in enumerate(upstream_ids):
        if upstream == endpoint_id:
            errors.append(FieldError(f"upstream_endpoint_ids[{i}]", "an endpoint cannot be its own upstream"))
        elif upstream not in found:
            errors.append(FieldError(f"upstream_endpoint_ids[{i}]", f"endpoint {upstream!r} not found"))
    if errors:
        raise InvalidInput(errors)
    refuse_cycle(conn, endpoint_id, upstream_ids, "upstream_endpoint_ids")


def insert_endpoint(
    conn: Connection, tenant_id: str, now: datetime, job_id: str, spec: EndpointSpec, tier: Tier | None = None
) -> str:
    """Add an endpoint in the caller's transaction and plan its first run; returns its id."""
    job = job_row(conn, tenant_id, job_id, lock=True)
    if job.status == JobStatus.ARCHIVED.value:
        raise Conflict(f"job {job_id!r} is archived; endpoints cannot be added to it")
    endpoint_id = str(uuid.uuid4())
    check_upstreams(conn, tenant_id, endpoint_id, spec.upstream_endpoint_ids)
    values = {**spec.model_dump(), "headers": keep_masked(spec.headers, None)}  # a mask with no secret is refused
    values["runs_left"] = spec.max_runs
    if tier is not None:
        values = apply_tier(conn, tenant_id, tier, values, now, new=True)
    conn.execute(endpoints.insert().values(id=endpoint_id, job_id=job_id, created_at=now, updated_at=now, **values))
    replace_watches(conn, endpoint_id, spec.upstream_endpoint_ids)
    replan(conn, endpoint_id, now, mode="reset")
    return endpoint_id


def desired_values(
    conn: Connection, tenant_id: str, now: datetime, row: EndpointRow, spec: EndpointSpec, tier: Tier | None = None
) -> dict[str, Any]:
    """The columns `spec` stands for over the stored `row`: upstreams and tier checked, masked secrets kept."""
    check_upstreams(conn, tenant_id, row.id, spec.upstream_endpoint_ids)
    values = {**spec.model_dump(), "headers": keep_masked(spec.headers, row.headers)}
    return apply_tier(conn, tenant_id, tier, values, now, new=False) if tier is not None else values


def apply_endpoint_spec(
    conn: Connection, tenant_id: str, now: datetime, endpoint_id: str, spec: EndpointSpec, tier: Tier | None = None
) -> bool:
    """Write the columns that differ from `spec` and re-plan; False (no write at all) when none do."""
    row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
    if row.archived_at is not None:
        raise Conflict(f"endpoint {endpoint_id!r} is archived and cannot change")
    values = desired_values(conn, tenant_id, now, row, spec, tier)
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if not changed:
        return False
    if "max_runs" in changed:  # a new count starts now; the same one declared again changes nothing
        changed["runs_left"] = changed["max_runs"]
    conn.execute(endpoints.update().where(endpoints.c.id == endpoint_id).values(updated_at=now, **changed))
    if "upstream_endpoint_ids" in changed:
        replace_watches(conn, endpoint_id, spec.upstream_endpoint_ids)
    replan(conn, endpoint_id, now, mode="reset")
    return True


def add_endpoint(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    job_id: str,
    data: dict[str, Any] | BaseModel,
    tier: Tier | None = None,
    caps: InputCaps | None = None,
) -> Endpoint:
    """Add an endpoint to an active or paused job; planned at once."""
    spec = parse(EndpointSpec, data, caps)
    with engine.begin() as conn:
        endpoint_id = insert_endpoint(conn, tenant_id, now, job_id, spec, tier)
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def get_endpoint(engine: Engine, tenant_id: str, endpoint_id: str) -> Endpoint:
    """One endpoint of the tenant."""
    with engine.connect() as conn:
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def list_endpoints(
    engine: Engine,
    tenant_id: str,
    job_id: str | None = None,
    *,
    include_archived: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[Endpoint]:
    """The tenant's endpoints (of one job if given), oldest first."""
    check_page(limit, offset)
    check_ids(job_id=job_id)
    query = select_endpoint_rows().where(jobs.c.tenant_id == tenant_id)
    if job_id is not None:
        query = query.where(endpoints.c.job_id == job_id)
    if not include_archived:
        query = query.where(endpoints.c.archived_at.is_(None))
    query = query.order_by(endpoints.c.created_at, endpoints.c.id).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [Endpoint.from_row(EndpointRow.of(r)) for r in conn.execute(query)]


def update_endpoint(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    endpoint_id: str,
    patch: dict[str, Any] | EndpointPatch,
    tier: Tier | None = None,
    caps: InputCaps | None = None,
) -> Endpoint:
    """Merge a partial update, validate the result, write what changed and re-plan at once."""
    with engine.connect() as conn:
        current = endpoint_row(conn, tenant_id, endpoint_id)
    spec = merge_endpoint(spec_of(current), patch, caps)  # validate fully before writing anything
    with engine.begin() as conn:
        apply_endpoint_spec(conn, tenant_id, now, endpoint_id, spec, tier)
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def archive_endpoint(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str) -> Endpoint:
    """Archive an endpoint for good (idempotent); it never runs again."""
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is None:
            conn.execute(
                endpoints.update()
                .where(endpoints.c.id == endpoint_id)
                .values(archived_at=now, updated_at=now, next_run_at=None, next_run_source=None, **NO_RETRY)
            )
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))


def reset_failures(engine: Engine, tenant_id: str, now: datetime, endpoint_id: str) -> Endpoint:
    """Forget consecutive failures (and their backoff) and re-plan at once."""
    with engine.begin() as conn:
        row = endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        if row.archived_at is not None:
            raise Conflict(f"endpoint {endpoint_id!r} is archived and cannot change")
        if row.failure_count != 0:
            conn.execute(
                endpoints.update().where(endpoints.c.id == endpoint_id).values(failure_count=0, updated_at=now)
            )
            replan(conn, endpoint_id, now, mode="reset")
        return Endpoint.from_row(endpoint_row(conn, tenant_id, endpoint_id))
