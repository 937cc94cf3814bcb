"""What the overview reads in bulk for one tenant: the endpoints needing attention, the due backlog, the
last hour's runs and dispatch lag, its counts. Each query is bounded by a limit or a recent window, so the
page costs about the same with 10 endpoints as with 10,000 (the endpoint table: `endpoint_table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from cronicorn.store.tables import endpoints, hint_events, jobs, runs

LAG_WINDOW = timedelta(hours=1)
LAG_SAMPLE = 2000  # the newest runs in the window the percentiles are taken over


@dataclass(frozen=True)
class Lag:
    """Request start minus the planned slot over the recent runs, in seconds."""

    p50_s: float | None
    p99_s: float | None
    sample: int


def attention(engine: Engine, tenant_id: str, now: datetime, limit: int = 20) -> dict[str, list[dict[str, Any]]]:
    """Endpoints failing (or backed off after failures) and endpoints paused, most failures and soonest first."""
    base = (
        select(
            endpoints.c.id,
            endpoints.c.name,
            endpoints.c.failure_count,
            endpoints.c.next_run_at,
            endpoints.c.paused_until,
            endpoints.c.paused_by,
            endpoints.c.pause_reason,
            jobs.c.name.label("job_name"),
        )
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
    )
    with engine.connect() as conn:
        failing = conn.execute(
            base.where(endpoints.c.failure_count > 0)
            .order_by(endpoints.c.failure_count.desc(), endpoints.c.name)
            .limit(limit)
        )
        failing_rows = [dict(r._mapping) for r in failing]
        paused = conn.execute(
            base.where(endpoints.c.paused_until > now).order_by(endpoints.c.paused_until).limit(limit)
        )
        paused_rows = [dict(r._mapping) for r in paused]
    return {"failing": failing_rows, "paused": paused_rows}


def due_backlog(engine: Engine, tenant_id: str, now: datetime) -> int:
    """The tenant's endpoints due now and not yet claimed (a claimed one carries its lease end, not a due time)."""
    with engine.connect() as conn:
        count = conn.execute(
            select(func.count())
            .select_from(endpoints)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, endpoints.c.claimed_slot.is_(None), endpoints.c.next_run_at <= now)
        ).scalar_one()
    return int(count)


def _tenant_jobs(conn: Any, tenant_id: str) -> list[str]:
    return list(conn.execute(select(jobs.c.id).where(jobs.c.tenant_id == tenant_id)).scalars())


def recent_runs(engine: Engine, tenant_id: str, now: datetime) -> tuple[dict[str, int], Lag]:
    """The tenant's runs of the last hour by status, and p50/p99 of start minus slot over the newest of them
    (retries excluded: they start late on purpose).

    The tenant's jobs are named by id, so both read the (job_id, started_at) index over one hour of runs,
    not the whole history.
    """
    since = now - LAG_WINDOW
    with engine.connect() as conn:
        job_ids = _tenant_jobs(conn, tenant_id)
        if not job_ids:
            return {}, Lag(None, None, 0)
        recent = (runs.c.job_id.in_(job_ids), runs.c.started_at >= since)
        counts = conn.execute(select(runs.c.status, func.count()).where(*recent).group_by(runs.c.status)).all()
        sample = conn.execute(
            select(runs.c.started_at, runs.c.scheduled_at)
            .where(*recent, runs.c.attempt <= 1)
            .order_by(runs.c.started_at.desc())
            .limit(LAG_SAMPLE)
        ).all()
    lags = sorted(max(0.0, (r.started_at - r.scheduled_at).total_seconds()) for r in sample)
    by_status = {str(status): int(n) for status, n in counts}
    if not lags:
        return by_status, Lag(None, None, 0)
    return by_status, Lag(p50_s=_percentile(lags, 0.50), p99_s=_percentile(lags, 0.99), sample=len(lags))


def tenant_counts(engine: Engine, tenant_id: str) -> dict[str, Any]:
    """The tenant's jobs by status and its endpoints that are not archived."""
    with engine.connect() as conn:
        by_status = conn.execute(
            select(jobs.c.status, func.count()).where(jobs.c.tenant_id == tenant_id).group_by(jobs.c.status)
        ).all()
        live = conn.execute(
            select(func.count())
            .select_from(endpoints)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        ).scalar_one()
    return {"jobs": {str(status): int(n) for status, n in by_status}, "endpoints": int(live)}


def _percentile(ordered: list[float], q: float) -> float:
    """The nearest-rank percentile of an ordered list."""
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return round(ordered[rank], 3)


def steering_history(engine: Engine, endpoint_id: str, since: datetime, limit: int = 500) -> list[dict[str, Any]]:
    """The endpoint's pauses, resumes, hints and clears since `since`, oldest first (the caller has
    checked the endpoint is the tenant's)."""
    query = (
        select(hint_events.c.at, hint_events.c.actor, hint_events.c.action, hint_events.c.expires_at)
        .where(hint_events.c.endpoint_id == endpoint_id, hint_events.c.at >= since)
        .order_by(hint_events.c.at.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        return [dict(r._mapping) for r in reversed(conn.execute(query).all())]
