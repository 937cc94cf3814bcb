"""How runs are going: an endpoint's success rate and failure streak, a tenant's dashboard counts (reads only)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, case, func, select

from cronicorn.core.model import RunStatus
from cronicorn.store.tables import endpoints, jobs, runs

SUCCESS, RUNNING = RunStatus.SUCCESS.value, RunStatus.RUNNING.value

STREAK_LOOKBACK = 50  # finished runs read to count the failure streak (it is reported up to this many)


@dataclass(frozen=True)
class RunWindow:
    """Finished runs started in a recent window: how many, the share that succeeded, their mean duration."""

    runs: int
    success_rate: float | None
    avg_duration_ms: float | None


@dataclass(frozen=True)
class EndpointHealth:
    """An endpoint's finished runs over 1 h / 4 h / 24 h, and how many of the latest failed in a row."""

    last_hour: RunWindow
    last_4_hours: RunWindow
    last_day: RunWindow
    failure_streak: int


@dataclass(frozen=True)
class DashboardStats:
    """A tenant's jobs by status, live endpoints, and runs of the last 24 h by status."""

    jobs: dict[str, int]
    endpoints: int
    runs_24h: dict[str, int]
    success_rate_24h: float | None


def _window(conn: Connection, endpoint_id: str, since: datetime) -> RunWindow:
    total, ok, avg = conn.execute(
        select(
            func.count(), func.sum(case((runs.c.status == SUCCESS, 1), else_=0)), func.avg(runs.c.duration_ms)
        ).where(runs.c.endpoint_id == endpoint_id, runs.c.started_at >= since, runs.c.status != RUNNING)
    ).one()
    return RunWindow(
        runs=int(total or 0),
        success_rate=round(float(ok or 0) / total, 3) if total else None,
        avg_duration_ms=round(float(avg), 1) if avg is not None else None,
    )


def endpoint_health(engine: Engine, endpoint_id: str, now: datetime) -> EndpointHealth:
    """The endpoint's recent run numbers (not tenant-scoped: callers check the endpoint is the caller's)."""
    with engine.connect() as conn:
        hour, four_hours, day = (_window(conn, endpoint_id, now - timedelta(hours=h)) for h in (1, 4, 24))
        recent = (
            conn.execute(
                select(runs.c.status)
                .where(runs.c.endpoint_id == endpoint_id, runs.c.status != RUNNING)
                .order_by(runs.c.started_at.desc())
                .limit(STREAK_LOOKBACK)
            )
            .scalars()
            .all()
        )
    streak = 0
    for status in recent:
        if status == SUCCESS:
            break
        streak += 1
    return EndpointHealth(last_hour=hour, last_4_hours=four_hours, last_day=day, failure_streak=streak)


def dashboard_stats(engine: Engine, tenant_id: str, now: datetime) -> DashboardStats:
    """The tenant's numbers at a glance; runs count from `now` minus 24 h."""
    since = now - timedelta(hours=24)
    with engine.connect() as conn:
        by_status = conn.execute(
            select(jobs.c.status, func.count()).where(jobs.c.tenant_id == tenant_id).group_by(jobs.c.status)
        ).all()
        endpoint_count = conn.execute(
            select(func.count())
            .select_from(endpoints)
            .join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        ).scalar_one()
        run_rows = conn.execute(
            select(runs.c.status, func.count())
            .join(jobs, jobs.c.id == runs.c.job_id)
            .where(jobs.c.tenant_id == tenant_id, runs.c.started_at >= since)
            .group_by(runs.c.status)
        ).all()
    run_status = {status: int(count) for status, count in run_rows}
    finished = sum(v for k, v in run_status.items() if k != RUNNING)
    return DashboardStats(
        jobs={status: int(count) for status, count in by_status},
        endpoints=int(endpoint_count),
        runs_24h=run_status,
        success_rate_24h=round(run_status.get(SUCCESS, 0) / finished, 4) if finished else None,
    )
