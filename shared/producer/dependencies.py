"""Dependency use cases: declare one on an endpoint, read it with its decisions, remove it.

Checked before anything is written: the upstreams are live endpoints of the same tenant (an
archived or another tenant's endpoint is refused, naming `upstream_endpoint_ids[i]`), the
template puts no body on a request that carries none, and no cycle is made, counting the
upstreams planners read (`upstream_endpoint_ids` of endpoints) as well as dependencies.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Connection, Engine, select

from cronicorn.core.errors import FieldError, InvalidInput
from cronicorn.core.model import BODY_METHODS
from cronicorn.producer.dependency_specs import DependencySpec
from cronicorn.producer.endpoints import endpoint_row
from cronicorn.producer.specs import parse
from cronicorn.store.declarations import read_declaration, remove_declaration, write_declaration
from cronicorn.store.graph import refuse_cycle
from cronicorn.store.tables import endpoints, jobs


def check_dependency(conn: Connection, tenant_id: str, endpoint_id: str, spec: DependencySpec) -> None:
    """Refuse a dependency on a missing, archived or foreign endpoint, a body a GET cannot carry, a cycle."""
    row = endpoint_row(conn, tenant_id, endpoint_id)
    ids = spec.upstream_endpoint_ids
    live = dict(
        conn.execute(
            select(endpoints.c.id, endpoints.c.archived_at)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(endpoints.c.id.in_(ids), jobs.c.tenant_id == tenant_id)
        ).all()
    )
    errors = []
    for i, upstream in enumerate(ids):
        if upstream == endpoint_id:
            errors.append(FieldError(f"upstream_endpoint_ids[{i}]", "an endpoint cannot depend on itself"))
        elif upstream not in live:
            errors.append(FieldError(f"upstream_endpoint_ids[{i}]", f"endpoint {upstream!r} not found"))
        elif live[upstream] is not None:
            errors.append(FieldError(f"upstream_endpoint_ids[{i}]", f"endpoint {upstream!r} is archived"))
    if spec.template.get("body") and row.method not in BODY_METHODS:
        errors.append(FieldError("template.body", f"a {row.method} request carries no body; use headers or query"))
    if errors:
        raise InvalidInput(errors)
    refuse_cycle(conn, endpoint_id, ids, "upstream_endpoint_ids")


def set_dependency(
    engine: Engine, tenant_id: str, now: datetime, endpoint_id: str, data: dict[str, Any] | BaseModel
) -> dict[str, Any]:
    """Declare (or replace) the dependency of an endpoint; returns it as `get_dependency` does."""
    spec = parse(DependencySpec, data)
    with engine.begin() as conn:
        apply_dependency(conn, tenant_id, now, endpoint_id, spec)
        declared = read_declaration(conn, endpoint_id)
    assert declared is not None  # written just now, in this transaction
    return declared


def apply_dependency(conn: Connection, tenant_id: str, now: datetime, endpoint_id: str, spec: DependencySpec) -> None:
    """`set_dependency` in the caller's transaction (registration declares several at once)."""
    endpoint_row(conn, tenant_id, endpoint_id, lock=True)
    check_dependency(conn, tenant_id, endpoint_id, spec)
    write_declaration(conn, tenant_id, endpoint_id, spec.model_dump(), now)


def get_dependency(engine: Engine, tenant_id: str, endpoint_id: str) -> dict[str, Any] | None:
    """The dependency of an endpoint, what it waits on now, the batch keys run and the last decisions."""
    with engine.connect() as conn:
        endpoint_row(conn, tenant_id, endpoint_id)
        return read_declaration(conn, endpoint_id)


def clear_dependency(engine: Engine, tenant_id: str, endpoint_id: str) -> bool:
    """Remove the dependency of an endpoint; False when it had none."""
    with engine.begin() as conn:
        endpoint_row(conn, tenant_id, endpoint_id, lock=True)
        return remove_declaration(conn, endpoint_id)
