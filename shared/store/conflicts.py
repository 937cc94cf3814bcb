"""Recorded conflicts between steering decisions: written when detected, open for a window, listed per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from cronicorn.core.constants import CONFLICT_WINDOW_MS
from cronicorn.core.coordination import ConflictKind, Finding
from cronicorn.core.errors import InvalidInput
from cronicorn.store.tables import conflicts, endpoints, jobs
from cronicorn.telemetry.metrics import CONFLICTS

OPEN_FOR = timedelta(milliseconds=CONFLICT_WINDOW_MS)


def record_conflicts(
    conn: Connection, tenant_id: str, findings: Sequence[Finding], now: datetime, *, damp_until: datetime | None = None
) -> None:
    """Store what was found (in the caller's transaction) and count it."""
    for f in findings:
        conn.execute(
            conflicts.insert().values(
                id=str(uuid.uuid4()),
                tenant_id=tenant_id,
                kind=f.kind.value,
                endpoint_id=f.endpoint_id,
                other_endpoint_id=f.other_endpoint_id,
                detected_at=now,
                open_until=max(now + OPEN_FOR, damp_until or now),
                damp_until=damp_until,
                resolution=f.resolution,
                detail=f.detail,
            )
        )
        CONFLICTS.labels(f.kind.value).inc()


def damped_until(conn: Connection, endpoint_id: str, now: datetime) -> datetime | None:
    """The end of the endpoint's thrash damping, if it is damped now."""
    until: datetime | None = conn.execute(
        select(func.max(conflicts.c.damp_until)).where(
            conflicts.c.endpoint_id == endpoint_id,
            conflicts.c.open_until > now,
            conflicts.c.kind == ConflictKind.THRASH.value,
        )
    ).scalar()
    return until if until is not None and until > now else None


def open_conflicts(
    conn: Connection, tenant_id: str, endpoint_ids: Sequence[str], now: datetime
) -> list[dict[str, Any]]:
    """Conflicts still open on, or naming, any of the endpoints, newest first."""
    ids = sorted(set(endpoint_ids))
    query = (
        select(conflicts)
        .where(
            conflicts.c.tenant_id == tenant_id,
            conflicts.c.open_until > now,
            or_(conflicts.c.endpoint_id.in_(ids), conflicts.c.other_endpoint_id.in_(ids)),
        )
        .order_by(conflicts.c.detected_at.desc(), conflicts.c.id)
        .limit(20)
    )
    return [dict(r._mapping) for r in conn.execute(query)]


def list_conflicts(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    *,
    endpoint_id: str | None = None,
    job_id: str | None = None,
    include_closed: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The tenant's conflicts (open ones unless `include_closed`), newest first."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput.one("limit", "must be a whole number between 1 and 1000")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput.one("offset", "must be a whole number of at least 0")
    query = select(conflicts, endpoints.c.name.label("endpoint_name"), endpoints.c.job_id).join(
        endpoints, endpoints.c.id == conflicts.c.endpoint_id
    )
    query = query.join(jobs, jobs.c.id == endpoints.c.job_id).where(
        conflicts.c.tenant_id == tenant_id, jobs.c.tenant_id == tenant_id
    )
    if endpoint_id is not None:
        query = query.where(or_(conflicts.c.endpoint_id == endpoint_id, conflicts.c.other_endpoint_id == endpoint_id))
    if job_id is not None:
        query = query.where(endpoints.c.job_id == job_id)
    if not include_closed:
        query = query.where(conflicts.c.open_until > now)
    query = query.order_by(conflicts.c.detected_at.desc(), conflicts.c.id).limit(limit).offset(offset)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]
