"""What the model is told at the start of a session about its endpoint."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from cronicorn.core.governor import backoff_factor
from cronicorn.planner.views import endpoint_view
from cronicorn.producer.redaction import redact_text
from cronicorn.store.conflicts import open_conflicts
from cronicorn.store.dependency_edges import gate_closed
from cronicorn.store.endpoint_rows import EndpointRow, select_endpoint_rows
from cronicorn.store.run_stats import endpoint_health
from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs, runs
from cronicorn.store.watches import downstream_ids


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _neighbours(conn: Connection, tenant_id: str, ids: list[str], now: datetime) -> list[dict[str, Any]]:
    """Live endpoints of the tenant among `ids` (any job), each with its state and latest finished run."""
    if not ids:
        return []
    rows = conn.execute(
        select(endpoints, jobs.c.name.label("job_name"))
        .join(jobs, jobs.c.id == endpoints.c.job_id)
        .where(endpoints.c.id.in_(ids), jobs.c.tenant_id == tenant_id, endpoints.c.archived_at.is_(None))
        .order_by(endpoints.c.name, endpoints.c.id)
    ).all()
    found = []
    for r in rows:
        latest = conn.execute(
            select(runs.c.status, runs.c.status_code, runs.c.finished_at, runs.c.source)
            .where(runs.c.endpoint_id == r.id, runs.c.status != "running")
            .order_by(runs.c.started_at.desc())
            .limit(1)
        ).first()
        view = endpoint_view(r, now)
        found.append(
            {
                "id": r.id,
                "name": r.name,
                "job": r.job_name,
                "paused_until": view["paused_until"],
                "paused_by": view["paused_by"],
                "failure_count": r.failure_count,
                "next_run_at": view["next_run_at"],
                "active_hints": view["active_hints"],
                "latest_run": {
                    "status": latest.status,
                    "status_code": latest.status_code,
                    "finished_at": _iso(latest.finished_at),
                    "source": latest.source,
                }
                if latest is not None
                else None,
            }
        )
    return found


def _conflict_view(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": c["kind"],
        "endpoint_id": c["endpoint_id"],
        "other_endpoint_id": c["other_endpoint_id"],
        "detected_at": _iso(c["detected_at"]),
        "damped_until": _iso(c["damp_until"]),
        "detail": c["detail"],
        "resolution": c["resolution"],
    }


def build_context(
    engine: Engine, endpoint_id: str, now: datetime, *, wanted: dict[str, Any] | None = None
) -> tuple[str, EndpointRow]:
    """The session's opening message and the endpoint row it describes; `wanted` is the upstream
    result that asked for this session, if one did."""
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
        upstreams = _neighbours(conn, row.tenant_id, list(row.upstream_endpoint_ids or []), now)
        downstreams = _neighbours(conn, row.tenant_id, downstream_ids(conn, endpoint_id), now)
        conflicts = open_conflicts(conn, row.tenant_id, [endpoint_id], now)
        gate = gate_closed(conn, endpoint_id)
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
        # The graph around it, in any job of the tenant: what it watches and what watches it.
        "declared_upstreams": upstreams,
        "downstreams": downstreams,
        "open_conflicts": [_conflict_view(c) for c in conflicts],
        # Why its dependency's gate is closed now (null: no gate, or open): faster hints are refused.
        "gate_closed": gate,
        "triggered_by": {
            "upstream_endpoint_id": wanted["upstream_endpoint_id"],
            "upstream_run_id": wanted["upstream_run_id"],
            "at": _iso(wanted["wanted_at"]),
            "cascade": wanted["chain"],
        }
        if wanted is not None
        else None,
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
