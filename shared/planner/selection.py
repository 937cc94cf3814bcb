"""Which endpoints need an analysis now (beat's `plan_analyses` asks every 30 s)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select

from cronicorn.core.model import JobStatus
from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs


def select_for_analysis(engine: Engine, now: datetime, *, min_spacing_s: float, limit: int = 100) -> list[str]:
    """Endpoints that ran and were never analysed, whose next analysis is due, or whose
    failures rose since the last session; never two sessions of one endpoint closer than
    `min_spacing_s`. A paused endpoint is still analysed, so the AI can resume its own pause."""
    last_at = (
        select(func.max(ai_analysis_sessions.c.analyzed_at))
        .where(ai_analysis_sessions.c.endpoint_id == endpoints.c.id)
        .scalar_subquery()
    )
    query = (
        select(endpoints.c.id)
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(
            endpoints.c.archived_at.is_(None),
            jobs.c.status == JobStatus.ACTIVE.value,
            endpoints.c.last_run_at.is_not(None),
            or_(
                endpoints.c.ai_next_analysis_at.is_(None),
                endpoints.c.ai_next_analysis_at <= now,
                endpoints.c.failure_count > endpoints.c.ai_analyzed_failure_count,
            ),
            or_(last_at.is_(None), last_at <= now - timedelta(seconds=min_spacing_s)),
        )
        .order_by(endpoints.c.ai_next_analysis_at.is_not(None), endpoints.c.ai_next_analysis_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())
