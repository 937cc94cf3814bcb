"""Reading: runs, planner sessions, endpoint health, dashboard numbers, service health."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from cronicorn.api.deps import client_for, deps, tenant
from cronicorn.api.schemas import ERRORS, to_api
from cronicorn.core.errors import InvalidInput
from cronicorn.monitoring.health import check_health

router = APIRouter(tags=["runs"], responses=ERRORS)


@router.get("/endpoints/{endpoint_id}/runs")
def list_runs(
    endpoint_id: str,
    request: Request,
    t: str = Depends(tenant),
    status: str | None = Query(default=None, pattern="^(running|success|failed|abandoned|canceled)$"),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    client = client_for(request, t)
    client.get_endpoint(endpoint_id)
    page = client.list_runs(endpoint_id=endpoint_id, status=status, limit=limit, offset=offset)
    return {"runs": to_api(page.runs), "total": page.total}


@router.get("/runs")
def search_runs(
    request: Request,
    t: str = Depends(tenant),
    endpointId: str | None = None,
    jobId: str | None = None,  # noqa: N803
    status: str | None = Query(default=None, pattern="^(running|success|failed|abandoned|canceled)$"),
    since: str | None = Query(default=None, json_schema_extra={"format": "date-time"}),
    until: str | None = Query(default=None, json_schema_extra={"format": "date-time"}),
    limit: int = Query(default=50, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    """Runs across the tenant, newest first, filtered by endpoint, job, status and start time (ISO 8601 with offset)."""
    page = client_for(request, t).list_runs(
        endpoint_id=endpointId,
        job_id=jobId,
        status=status,
        since=_instant("since", since),
        until=_instant("until", until),
        limit=limit,
        offset=offset,
    )
    return {"runs": to_api(page.runs), "total": page.total}


def _instant(name: str, raw: str | None) -> datetime | None:
    """An aware ISO 8601 time; anything else (a bare number, no offset) is refused by name."""
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput.one(name, "must be an ISO 8601 time with an offset, e.g. 2026-01-31T12:00:00Z") from None
    if value.tzinfo is None:
        raise InvalidInput.one(name, "needs a time zone offset (e.g. Z)")
    return value


@router.get("/runs/{run_id}")
def get_run(run_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).get_run(run_id))


@router.get("/endpoints/{endpoint_id}/health")
def endpoint_health(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    client = client_for(request, t)
    endpoint = client.get_endpoint(endpoint_id)
    numbers = client.endpoint_health(endpoint_id)
    return to_api(
        {
            "endpoint_id": endpoint_id,
            "failure_count": endpoint.failure_count,
            "last_run_at": endpoint.last_run_at,
            "next_run_at": endpoint.next_run_at,
            **asdict(numbers),
        }
    )


@router.get("/endpoints/{endpoint_id}/sessions")
def list_sessions(
    endpoint_id: str,
    request: Request,
    t: str = Depends(tenant),
    limit: int = Query(default=20, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    client = client_for(request, t)
    client.get_endpoint(endpoint_id)
    return {"sessions": to_api(client.list_sessions(endpoint_id, limit=limit, offset=offset))}


@router.get("/sessions/{session_id}")
def get_session(session_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).get_session(session_id))


@router.get("/conflicts", tags=["coordination"])
def list_conflicts(
    request: Request,
    t: str = Depends(tenant),
    endpoint_id: str | None = Query(default=None, alias="endpointId", max_length=36),
    job_id: str | None = Query(default=None, alias="jobId", max_length=36),
    include_closed: bool = Query(default=False, alias="includeClosed"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    """Conflicts between steering decisions (thrash, graph contradictions, opposed siblings, closed
    gates, trigger loops), open ones unless includeClosed, newest first."""
    found = client_for(request, t).list_conflicts(
        endpoint_id, job_id=job_id, include_closed=include_closed, limit=limit, offset=offset
    )
    return {"conflicts": to_api(found)}


@router.get("/dashboard/stats")
def dashboard_stats(request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).dashboard_stats())


class HealthOut(BaseModel):
    status: str
    checks: dict[str, Any]


@router.get(
    "/health",
    tags=["health"],
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "a dependency is down or ticks are stale"}},
)
def health(request: Request) -> Any:
    """Database, Redis, queue depths and tick freshness; 503 when unhealthy. No key needed."""
    d = deps(request)
    report = to_api(check_health(d.engine, d.redis, d.clock(), queue_depths=d.queue_depths))
    return JSONResponse(report, status_code=200 if report["status"] == "ok" else 503)
