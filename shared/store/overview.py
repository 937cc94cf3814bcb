"""What the dashboard reads in bulk for one tenant: the endpoint table, the endpoints needing attention,
the due backlog and the dispatch lag. Each query is bounded by a page or a recent window, so a page costs
about the same with 10 endpoints as with 10,000.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, func, or_, select, union_all

from cronicorn.core.errors import InvalidInput
from cronicorn.store.tables import endpoints, hint_events, jobs, runs

FILTERS = ("all", "active", "paused", "failing", "hinted", "ended", "archived")
"""The endpoint table's status filter: one of these names."""
LAG_WINDOW = timedelta(hours=1)
LAG_SAMPLE = 2000  # the newest runs in the window the percentiles are taken over


@dataclass(frozen=True)
class TableRow:
    """One endpoint as the table shows it, with its job's name and status and its newest run."""

    endpoint: dict[str, Any]
    job_name: str
    job_status: str
    last_status: str | None
    last_status_code: int | None
    last_source: str | None


@dataclass(frozen=True)
class Lag:
    """Request start minus the planned slot over the recent runs, in seconds."""

    p50_s: float | None
    p99_s: float | None
    sample: int


def _filtered(query: Select[Any], status: str, now: datetime) -> Select[Any]:
    live = endpoints.c.archived_at.is_(None)
    if status == "active":
        return query.where(live, endpoints.c.ended_at.is_(None), jobs.c.status == "active", _not_paused(now))
    if status == "paused":
        return query.where(live, or_(endpoints.c.paused_until > now, jobs.c.status == "paused"))
    if status == "failing":
        return query.where(live, endpoints.c.failure_count > 0)
    if status == "hinted":
        return query.where(live, endpoints.c.ai_hint_expires_at > now)
    if status == "ended":
        return query.where(live, endpoints.c.ended_at.is_not(None))
    if status == "archived":
        return query.where(endpoints.c.archived_at.is_not(None))
    return query.where(live)


def _not_paused(now: datetime) -> Any:
    return or_(endpoints.c.paused_until.is_(None), endpoints.c.paused_until <= now)


def endpoint_table(
    engine: Engine,
    tenant_id: str,
    now: datetime,
    *,
    search: str = "",
    status: str = "all",
    job_id: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[TableRow], int]:
    """One page of the tenant's endpoints by job and name, filtered, and how many match in all."""
    if status not in FILTERS:
        raise InvalidInput.one("status", f"must be one of {', '.join(FILTERS)}")
    if not 1 <= limit <= 1000 or offset < 0:
        raise InvalidInput.one("limit", "must be between 1 and 1000, with an offset of at least 0")
    query = (
        select(endpoints, jobs.c.name.label("job_name"), jobs.c.status.label("job_status"))
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(jobs.c.tenant_id == tenant_id)
    )
    query = _filtered(query, status, now)
    if job_id:
        query = query.where(endpoints.c.job_id == job_id)
    if search.strip():
        # LIKE's own wildcards in the search are taken literally.
        needle = "%" + search.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                func.lower(endpoints.c.name).like(needle, escape="\\"),
                func.lower(endpoints.c.url).like(needle, escape="\\"),
                func.lower(jobs.c.name).like(needle, escape="\\"),
            )
        )
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(jobs.c.name, endpoints.c.name, endpoints.c.id).limit(limit).offset(offset))
        page = [dict(r._mapping) for r in rows]
        last = _last_runs(conn, [r["id"] for r in page])
    table = []
    for row in page:
        newest = last.get(row["id"], {})
        table.append(
            TableRow(
                endpoint=row,
                job_name=row["job_name"],
                job_status=row["job_status"],
                last_status=newest.get("status"),
                last_status_code=newest.get("status_code"),
                last_source=newest.get("source"),
            )
        )
    return table, int(total)


def _last_runs(conn: Any, endpoint_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The newest run of each endpoint: one indexed LIMIT 1 lookup each (ix_runs_endpoint_started),
    all in one round trip."""
    if not endpoint_ids:
        return {}
    newest = [
        select(
            select(runs.c.endpoint_id, runs.c.status, runs.c.status_code, runs.c.source)
            .where(runs.c.endpoint_id == endpoint_id)
            .order_by(runs.c.started_at.desc())
            .limit(1)
            .subquery()
        )
        for endpoint_id in endpoint_ids
    ]
    return {row.endpoint_id: dict(row._mapping) for row in conn.execute(union_all(*newest))}


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
