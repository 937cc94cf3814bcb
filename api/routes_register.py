"""Deploy-time registration over REST: one request, one transaction, nothing left behind on failure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from cronicorn.api.deps import client_for, tenant
from cronicorn.api.schemas import ERRORS, RegisterIn, to_api

router = APIRouter(tags=["jobs"], responses=ERRORS)


@router.post("/register")
def register(body: RegisterIn, request: Request, t: str = Depends(tenant)) -> Any:
    """Create or bring up to date a job and its endpoints by name; safe to send on every deploy.

    The job is found by name among the tenant's jobs that are not archived, endpoints by name within
    it. Invalid input (named `endpoints[i].field`), a tier limit or a conflict writes nothing.
    """
    job, endpoints = client_for(request, t).register(
        body.job.snake(), [e.snake() for e in body.endpoints], on_conflict=body.on_conflict
    )
    return {"job": to_api(job), "endpoints": to_api(endpoints)}
