"""What the model is told at the start of a session about its endpoint."""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, case, func, select

from cronicorn.core.governor import backoff_factor
from cronicorn.planner.views import endpoint_view
from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs, runs


def health_numbers(engine: Engine, endpoint_id: str, now: datetime) -> dict[str, Any]:
    """Success rate, run count and average duration over 1 h / 4 h / 24 h, and the failure streak."""
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        for label, hours in (("last_hour", 1), ("last_4_hours", 4), ("last_day", 24)):
            since = now - timedelta(hours=hours)
            total, ok, avg = conn.execute(
                select(func.count(), func.sum(case((runs.c.status == "success", 1), else_=0)), func.avg(runs.c.duration_ms))
                .where(runs.c.endpoint_id == endpoint_id, runs.c.started_at >= since, runs.c.status != "running")
            ).one()
            out[label] = {"runs": int(total or 0), "success_rate": round(float(ok or 0) / total, 3) if total else None,
                          "avg_duration_ms": round(float(avg), 1) if avg is not None else None}
        recent = conn.execute(
            select(runs.c.status).where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running")
            .order_by(runs.c.started_at.desc()).limit(50)
        ).scalars().all()
    streak = 0
    for status in recent:
        if status == "success":
            break
        streak += 1
    out["failure_streak"] = streak
    return out


def build_context(engine: Engine, endpoint_id: str, now: datetime) -> tuple[str, Any]:
    """The session's opening message and the endpoint row it describes."""
    with engine.connect() as conn:
        row = conn.execute(
            select(endpoints, jobs.c.name.label("job_name"), jobs.c.description.label("job_description"), jobs.c.tenant_id)
            .join(jobs, jobs.c.id == endpoints.c.job_id).where(endpoints.c.id == endpoint_id)
        ).one()
        siblings = conn.execute(
            select(endpoints.c.name).where(endpoints.c.job_id == row.job_id, endpoints.c.id != endpoint_id,
                                           endpoints.c.archived_at.is_(None)).order_by(endpoints.c.name)
        ).scalars().all()
        upstreams = conn.execute(
            select(endpoints.c.name, jobs.c.name.label("job")).join(jobs, jobs.c.id == endpoints.c.job_id)
            .where(endpoints.c.id.in_(row.upstream_endpoint_ids or []), jobs.c.tenant_id == row.tenant_id)
            .order_by(endpoints.c.name)
        ).all() if row.upstream_endpoint_ids else []
        last = conn.execute(
            select(ai_analysis_sessions).where(ai_analysis_sessions.c.endpoint_id == endpoint_id)
            .order_by(ai_analysis_sessions.c.analyzed_at.desc()).limit(1)
        ).first()
    view = endpoint_view(row, now)
    context = {
        "current_time": now.isoformat(),
        "endpoint": {**view, "url": row.url, "method": row.method, "timeout_ms": row.timeout_ms,
                     "failure_backoff_factor": backoff_factor(row.failure_count) if row.baseline_interval_ms else 1},
        "health": health_numbers(engine, endpoint_id, now),
        "job": {"name": row.job_name, "description": row.job_description, "siblings": list(siblings)},
        "declared_upstreams": [{"name": u.name, "job": u.job} for u in upstreams],
        "last_session": {
            "analyzed_at": last.analyzed_at.isoformat(), "reasoning": last.reasoning, "actions_taken": last.actions_taken,
            "status": last.status,
        } if last is not None else None,
    }
    text = (
        "Analyse this endpoint and decide whether its schedule should change. "
        "Its description is your ruleset.\n\n" + json.dumps(context, indent=2, default=str)
    )
    return text, row
