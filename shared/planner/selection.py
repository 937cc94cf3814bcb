"""Which endpoints need an analysis now.

Two selections: the scheduled one (beat's `plan_analyses`, every `CRONICORN_ANALYSIS_INTERVAL_S`)
looks for endpoints whose next analysis is due; the reactive one (`plan_reactive_analyses`, every
`CRONICORN_AI_REACT_INTERVAL_S`) reads only the requests upstream results left
(`cronicorn.store.analysis_wanted`), so it can run every few seconds at a cost that follows them.
Both keep the minimum spacing between two sessions of one endpoint, and skip a damped endpoint.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, func, or_, select

from cronicorn.core.model import JobStatus
from cronicorn.store.analysis_wanted import pick_wanted
from cronicorn.store.tables import ai_analysis_sessions, conflicts, endpoints, jobs

REPICK_AFTER_S = 300.0
"""A request picked but not served by then (its task or worker was lost) is picked again."""


def select_for_analysis(engine: Engine, now: datetime, *, min_spacing_s: float, limit: int = 100) -> list[str]:
    """Endpoints that ran and were never analysed, whose next analysis is due, or whose
    failures rose since the last session; never two sessions of one endpoint closer than
    `min_spacing_s`. A paused endpoint is still analysed, so the AI can resume its own pause."""
    last_at = (
        select(func.max(ai_analysis_sessions.c.analyzed_at))
        .where(ai_analysis_sessions.c.endpoint_id == endpoints.c.id)
        .scalar_subquery()
    )
    # A thrashing endpoint waits out its damping (`cronicorn.coordination.arbiter`).
    damped = (
        select(conflicts.c.id)
        .where(conflicts.c.endpoint_id == endpoints.c.id, conflicts.c.open_until > now, conflicts.c.damp_until > now)
        .exists()
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
            ~damped,
        )
        .order_by(endpoints.c.ai_next_analysis_at.is_not(None), endpoints.c.ai_next_analysis_at)
        .limit(limit)
    )
    with engine.connect() as conn:
        return list(conn.execute(query).scalars())


def select_wanted(engine: Engine, now: datetime, *, min_spacing_s: float, limit: int = 100) -> list[str]:
    """Endpoints an upstream's new result asked to analyse, that may be analysed now (marked picked)."""
    return pick_wanted(engine, now, min_spacing_s=min_spacing_s, repick_after_s=REPICK_AFTER_S, limit=limit)
