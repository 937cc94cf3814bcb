"""Jobs and their endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response

from cronicorn.api.deps import client_for, tenant
from cronicorn.api.schemas import ERRORS, EndpointIn, EndpointPatchIn, JobIn, JobPatchIn, to_api
from cronicorn.core.errors import NotFound
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.records import Endpoint

router = APIRouter(tags=["jobs"], responses=ERRORS)


@router.post("/jobs", status_code=201)
def create_job(body: JobIn, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).create_job(body.snake()))


@router.get("/jobs")
def list_jobs(
    request: Request,
    t: str = Depends(tenant),
    status: str | None = Query(default=None, pattern="^(active|paused|archived)$"),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    return {"jobs": to_api(client_for(request, t).list_jobs(status=status, limit=limit, offset=offset))}


@router.get("/jobs/{job_id}")
def get_job(job_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).get_job(job_id))


@router.patch("/jobs/{job_id}")
def update_job(job_id: str, body: JobPatchIn, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).update_job(job_id, **body.snake()))


@router.delete("/jobs/{job_id}", status_code=204)
def delete_job(job_id: str, request: Request, t: str = Depends(tenant)) -> Response:
    """Archives the job: its endpoints never run again; runs and sessions are kept."""
    client_for(request, t).archive_job(job_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/pause")
def pause_job(job_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).pause_job(job_id))


@router.post("/jobs/{job_id}/resume")
def resume_job(job_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).resume_job(job_id))


@router.post("/jobs/{job_id}/endpoints", status_code=201)
def add_endpoint(job_id: str, body: EndpointIn, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).add_endpoint(job_id, body.snake()))


@router.get("/jobs/{job_id}/endpoints")
def list_endpoints(
    job_id: str,
    request: Request,
    t: str = Depends(tenant),
    includeArchived: bool = False,  # noqa: N803
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    client = client_for(request, t)
    client.get_job(job_id)  # 404 for another tenant's job, not an empty list
    return {
        "endpoints": to_api(client.list_endpoints(job_id, include_archived=includeArchived, limit=limit, offset=offset))
    }


@router.get("/endpoints")
def search_endpoints(
    request: Request,
    t: str = Depends(tenant),
    jobId: str | None = None,
    includeArchived: bool = False,  # noqa: N803
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=1_000_000_000),
) -> Any:
    """Endpoints across the tenant's jobs (or one job)."""
    return {
        "endpoints": to_api(
            client_for(request, t).list_endpoints(jobId, include_archived=includeArchived, limit=limit, offset=offset)
        )
    }


@router.get("/endpoints/{endpoint_id}")
def get_any_endpoint(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).get_endpoint(endpoint_id))


@router.get("/endpoints/{endpoint_id}/explain")
def explain(
    endpoint_id: str, request: Request, t: str = Depends(tenant), n: int = Query(default=5, ge=1, le=100)
) -> Any:
    """The next n run times and why, assuming each run succeeds; `endedAt` says when an endpoint whose
    schedule ran out (ends_at, max_runs, a one-off that ran) ended, and then nothing is planned."""
    client = client_for(request, t)
    planned = client.explain(endpoint_id, n)
    return {
        "planned": to_api(planned),
        "endedAt": client.get_endpoint(endpoint_id).ended_at,
        # Why it ran or did not lately (dependencies): the decisions are text the scheduler wrote.
        "decisions": client.decisions(endpoint_id),
    }


def _in_job(request: Request, t: str, job_id: str, endpoint_id: str) -> tuple[Cronicorn, Endpoint]:
    client = client_for(request, t)
    endpoint = client.get_endpoint(endpoint_id)
    if endpoint.job_id != job_id:
        raise NotFound("endpoint", endpoint_id)
    return client, endpoint


@router.get("/jobs/{job_id}/endpoints/{endpoint_id}")
def get_endpoint(job_id: str, endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(_in_job(request, t, job_id, endpoint_id)[1])


@router.patch("/jobs/{job_id}/endpoints/{endpoint_id}")
def update_endpoint(
    job_id: str, endpoint_id: str, body: EndpointPatchIn, request: Request, t: str = Depends(tenant)
) -> Any:
    client, _ = _in_job(request, t, job_id, endpoint_id)
    return to_api(client.update_endpoint(endpoint_id, **body.snake()))


@router.delete("/jobs/{job_id}/endpoints/{endpoint_id}", status_code=204)
def delete_endpoint(job_id: str, endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Response:
    """Archives the endpoint (its runs are kept)."""
    client, _ = _in_job(request, t, job_id, endpoint_id)
    client.archive_endpoint(endpoint_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/endpoints/{endpoint_id}/archive")
def archive_endpoint(job_id: str, endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    client, _ = _in_job(request, t, job_id, endpoint_id)
    return to_api(client.archive_endpoint(endpoint_id))
