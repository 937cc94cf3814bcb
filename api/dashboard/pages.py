"""The dashboard's pages: overview, the endpoint table, an endpoint, a run, an AI session. Read only."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cronicorn.api.dashboard.auth import SignedIn
from cronicorn.api.dashboard.render import page
from cronicorn.api.dashboard.sessions import COOKIE, pop_flash
from cronicorn.api.dashboard.timeline import GROUPS, source_group, timeline_data
from cronicorn.api.dashboard.why import endpoint_status, reasons
from cronicorn.api.deps import Deps, client_for, deps
from cronicorn.monitoring.health import check_health
from cronicorn.producer.records import Run
from cronicorn.producer.redaction import mask_headers, redact_json, redact_text
from cronicorn.store import endpoint_table, overview

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
TIMELINE_RUNS = 200  # the newest runs the timeline plots
PLANNED_RUNS = 10


@router.get("/")
def overview_page(request: Request, session: SignedIn) -> Response:
    d = deps(request)
    client = client_for(request, session.tenant_id)
    now = d.clock()
    return page(
        request,
        "overview.html",
        now=now,
        health=check_health(d.engine, d.redis, now, queue_depths=d.queue_depths),
        backlog=overview.due_backlog(d.engine, session.tenant_id, now),
        recent=overview.recent_runs(d.engine, session.tenant_id, now),
        counts=overview.tenant_counts(d.engine, session.tenant_id),
        attention=overview.attention(d.engine, session.tenant_id, now),
        sessions=client.list_sessions(limit=10),
        conflicts=client.list_conflicts(limit=20),
    )


@router.get("/endpoints")
def endpoints_page(
    request: Request,
    session: SignedIn,
    q: str = Query(default="", max_length=200),
    status: str = Query(default="all", pattern="^(" + "|".join(endpoint_table.FILTERS) + ")$"),
    job: str = Query(default="", max_length=36),
    page_number: int = Query(default=1, alias="page", ge=1, le=100_000),
) -> Response:
    d = deps(request)
    client = client_for(request, session.tenant_id)
    now = d.clock()
    rows, total = endpoint_table.endpoint_table(
        d.engine,
        session.tenant_id,
        now,
        search=q,
        status=status,
        job_id=job or None,
        limit=PAGE_SIZE,
        offset=(page_number - 1) * PAGE_SIZE,
    )
    return page(
        request,
        "endpoints.html",
        now=now,
        rows=rows,
        total=total,
        q=q,
        status=status,
        job=job,
        jobs=client.list_jobs(limit=1000),
        filters=endpoint_table.FILTERS,
        page_number=page_number,
        pages=max(1, -(-total // PAGE_SIZE)),
        group=source_group,
    )


@router.get("/endpoints/{endpoint_id}")
def endpoint_page(
    endpoint_id: str,
    request: Request,
    session: SignedIn,
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Response:
    d = deps(request)
    client = client_for(request, session.tenant_id)
    now = d.clock()
    endpoint = client.get_endpoint(endpoint_id)
    job = client.get_job(endpoint.job_id)
    recent = client.list_runs(endpoint_id=endpoint_id, limit=TIMELINE_RUNS)
    listed = recent if offset == 0 else client.list_runs(endpoint_id=endpoint_id, limit=PAGE_SIZE, offset=offset)
    planned = client.explain(endpoint_id, n=PLANNED_RUNS)
    return page(
        request,
        "endpoint.html",
        now=now,
        endpoint=endpoint,
        job=job,
        status=endpoint_status(endpoint, job.status, now),
        reasons=reasons(endpoint, job, planned, now),
        planned=planned,
        runs=listed.runs[:PAGE_SIZE],
        total_runs=listed.total,
        offset=offset,
        page_size=PAGE_SIZE,
        timeline=timeline_data(endpoint, recent.runs, planned, now, _history(d, endpoint_id, recent.runs, now)),
        groups=GROUPS,
        group=source_group,
        health=asdict(client.endpoint_health(endpoint_id)),
        sessions=client.list_sessions(endpoint_id, limit=10),
        conflicts=client.list_conflicts(endpoint_id, limit=10),
        dependency=client.get_dependency(endpoint_id),
        headers=mask_headers(endpoint.headers),
        flash=pop_flash(d.redis, request.cookies.get(COOKIE)),
    )


def _history(d: Deps, endpoint_id: str, shown: list[Run], now: datetime) -> list[dict[str, Any]]:
    """The steering history over the span the timeline shows (its oldest run, or the last day)."""
    since = min((r.started_at for r in shown), default=now - timedelta(days=1))
    return overview.steering_history(d.engine, endpoint_id, since)


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request, session: SignedIn) -> Response:
    client = client_for(request, session.tenant_id)
    run = client.get_run(run_id)
    endpoint = client.get_endpoint(run.endpoint_id)
    shown = {
        "request_url": redact_text(run.request_url) if run.request_url else None,
        "response_headers": mask_headers(run.response_headers),
        "response_body": redact_json(run.response_body),
        "response_text": redact_text(run.response_text) if run.response_text else None,
        "error_message": redact_text(run.error_message) if run.error_message else None,
    }
    return page(request, "run.html", now=deps(request).clock(), run=run, endpoint=endpoint, shown=shown)


def _text(value: str | None) -> str | None:
    return redact_text(value) if value else value


@router.get("/sessions/{session_id}")
def session_page(session_id: str, request: Request, session: SignedIn) -> Response:
    found = client_for(request, session.tenant_id).get_session(session_id)
    found = {**found, "tool_calls": redact_json(found.get("tool_calls")), "reasoning": _text(found.get("reasoning"))}
    return page(request, "session.html", now=deps(request).clock(), ai=found)
