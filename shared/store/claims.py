"""Claiming due endpoints: atomic across any number of ticks, beats and scheduler workers.

PostgreSQL: `SELECT ... FOR UPDATE SKIP LOCKED` then the claim UPDATE, in one transaction, so
two concurrent ticks never see the same row. SQLite: the engine opens every transaction with
BEGIN IMMEDIATE, which serialises claimers on the database write lock (same guarantee).

Each claim bumps the endpoint's fencing token; an `execute` message carries it and every later
write of that attempt must still match it, so a stale or duplicated message does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select

from cronicorn.core.model import JobStatus
from cronicorn.store.tables import endpoints, jobs


@dataclass(frozen=True)
class Claim:
    endpoint_id: str
    job_id: str
    name: str
    fence: int
    slot: datetime
    attempt: int
    source: str | None
    lease_until: datetime


def lease_ms(timeout_ms: int, max_execution_time_ms: int, grace_ms: int) -> int:
    """How long one attempt may hold its endpoint: never shorter than the request timeout."""
    return max(max_execution_time_ms, timeout_ms + grace_ms)


_DUE = (
    select(
        endpoints.c.id,
        endpoints.c.job_id,
        endpoints.c.name,
        endpoints.c.fence,
        endpoints.c.next_run_at,
        endpoints.c.next_run_source,
        endpoints.c.claimed_slot,
        endpoints.c.claimed_source,
        endpoints.c.claim_attempt,
        endpoints.c.timeout_ms,
        endpoints.c.max_execution_time_ms,
        endpoints.c.paused_until,
        endpoints.c.archived_at,
        jobs.c.status.label("job_status"),
    )
    .join(jobs, jobs.c.id == endpoints.c.job_id)
    .where(endpoints.c.next_run_at <= bindparam("now"))
    .order_by(endpoints.c.next_run_at)
    .limit(bindparam("limit"))
    .with_for_update(skip_locked=True, of=endpoints)
)

_CLAIM = (
    endpoints.update()
    .where(endpoints.c.id == bindparam("b_id"))
    .values(
        fence=bindparam("b_fence"),
        claimed_slot=bindparam("b_slot"),
        claimed_source=bindparam("b_source"),
        claim_attempt=bindparam("b_attempt"),
        lease_until=bindparam("b_lease"),
        # An attempt that never finishes makes the endpoint due again when its lease ends.
        next_run_at=bindparam("b_lease"),
    )
)

_PARK = endpoints.update().where(endpoints.c.id == bindparam("b_id")).values(next_run_at=bindparam("b_next"))


def claim_due(engine: Engine, now: datetime, *, limit: int, grace_ms: int) -> list[Claim]:
    """Claim up to `limit` due endpoints in one transaction; publish only after it commits."""
    with engine.begin() as conn:
        rows = conn.execute(_DUE, {"now": now, "limit": limit}).all()
        return _claim_rows(conn, rows, now, grace_ms)


def _claim_rows(conn: Connection, rows: Sequence[Any], now: datetime, grace_ms: int) -> list[Claim]:
    claims: list[Claim] = []
    updates: list[dict[str, Any]] = []
    parked: list[dict[str, Any]] = []
    for row in rows:
        # Rows that should not be due (a race with a job pause or archive) are parked here,
        # so they are never scanned again and the tick's cost stays with real due work.
        if row.archived_at is not None or row.job_status != JobStatus.ACTIVE.value:
            parked.append({"b_id": row.id, "b_next": None})
            continue
        if row.paused_until is not None and row.paused_until > now:
            parked.append({"b_id": row.id, "b_next": row.paused_until})
            continue
        reclaim = row.claimed_slot is not None  # the previous attempt's lease ran out
        lease_until = now + timedelta(milliseconds=lease_ms(row.timeout_ms, row.max_execution_time_ms, grace_ms))
        claim = Claim(
            endpoint_id=row.id,
            job_id=row.job_id,
            name=row.name,
            fence=row.fence + 1,
            slot=row.claimed_slot if reclaim else row.next_run_at,
            attempt=row.claim_attempt + 1 if reclaim else 1,
            source=row.claimed_source if reclaim else row.next_run_source,
            lease_until=lease_until,
        )
        claims.append(claim)
        updates.append(
            {
                "b_id": claim.endpoint_id,
                "b_fence": claim.fence,
                "b_slot": claim.slot,
                "b_source": claim.source,
                "b_attempt": claim.attempt,
                "b_lease": lease_until,
            }
        )
    if updates:
        conn.execute(_CLAIM, updates)
    if parked:
        conn.execute(_PARK, parked)
    return claims
