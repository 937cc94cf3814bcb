"""What the model is told at the start of a session about its endpoint."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime

from sqlalchemy import Engine, select

from cronicorn.core.governor import backoff_factor
from cronicorn.planner.views import endpoint_view
from cronicorn.producer.redaction import redact_text
from cronicorn.store.endpoint_rows import EndpointRow, select_endpoint_rows
from cronicorn.store.run_stats import endpoint_health
from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs


def build_context(engine: Engine, endpoint_id: str, now: datetime) -> tuple[str, EndpointRow]:
    """The session's opening message and the endpoint row it describes."""
    with engine.connect() as conn:
        joined = conn.execute(
            select_endpoint_rows()
            .add_columns(jobs.c.name.label("job_name"), jobs.c.description.label("job_description"))
            .where(endpoints.c.id == endpoint_id)
        ).one()
        row = EndpointRow.of(joined)
        siblings = (
            conn.execute(
                select(endpoints.c.name)
                .where(
                    endpoints.c.job_id == row.job_id, endpoints.c.id != endpoint_id, endpoints.c.archived_at.is_(None)
                )
                .order_by(endpoints.c.name)
            )
            .scalars()
            .all()
        )
        upstreams = (
            conn.execute(
                select(endpoints.c.name, jobs.c.name.label("job"))
                .join(jobs, jobs.c.id == endpoints.c.job_id)
                .where(endpoints.c.id.in_(row.upstream_endpoint_ids or []), jobs.c.tenant_id == row.tenant_id)
                .order_by(endpoints.c.name)
            ).all()
            if row.upstream_endpoint_ids
            else []
        )
        last = conn.execute(
            select(ai_analysis_sessions)
            .where(ai_analysis_sessions.c.endpoint_id == endpoint_id)
            .order_by(ai_analysis_sessions.c.analyzed_at.desc())
            .limit(1)
        ).first()
    view = endpoint_view(row, now)
    # The model is shown the call's shape, never its credentials: no headers at all, and the URL with
    # its userinfo password and secret-named query parameters masked.
    context = {
        "current_time": now.isoformat(),
        "endpoint": {
            **view,
            "url": redact_text(row.url),
            "method": row.method,
            "timeout_ms": row.timeout_ms,
            "failure_backoff_factor": backoff_factor(row.failure_count) if row.baseline_interval_ms else 1,
        },
        "health": asdict(endpoint_health(engine, endpoint_id, now)),
        "job": {"name": joined.job_name, "description": joined.job_description, "siblings": list(siblings)},
        "declared_upstreams": [{"name": u.name, "job": u.job} for u in upstreams],
        "last_session": {
            "analyzed_at": last.analyzed_at.isoformat(),
            "reasoning": last.reasoning,
            "actions_taken": last.actions_taken,
            "status": last.status,
        }
        if last is not None
        else None,
    }
    text = (
        "Analyse this endpoint and decide whether its schedule should change. "
        "Its description is your ruleset.\n\n" + json.dumps(context, indent=2, default=str)
    )
    return text, row
