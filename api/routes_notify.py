"""Notification channels, the notifications sent, and auto-pause policies."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field, StrictInt

from cronicorn.api.deps import client_for, tenant
from cronicorn.api.schemas import ERRORS, _In, to_api

router = APIRouter(tags=["notifications"], responses=ERRORS)


class ChannelIn(_In):
    kind: str = Field(description="webhook (a signed JSON POST) or email (SMTP)")
    target: str = Field(description="the webhook's http(s) URL, or the e-mail address")
    name: str | None = Field(default=None, description="1-255 characters (default: kind and target)")
    job_id: str | None = Field(default=None, description="only this job's endpoints (default: every job)")
    events: list[str] | None = Field(
        default=None, description="some of failing, recovered, ai_paused, auto_paused (default: all)"
    )
    failure_threshold: StrictInt | None = Field(default=None, description="failures in a row that make failing, 1-1000")
    secret: str | None = Field(default=None, description="a webhook's HMAC key, 16-256 characters (default: generated)")


class AutoPauseIn(_In):
    after_failures: StrictInt | None = Field(description="consecutive failures that pause, 1-1000; null removes it")


@router.post("/notification-channels", status_code=201)
def add_channel(body: ChannelIn, request: Request, t: str = Depends(tenant)) -> Any:
    """Add a channel; a webhook's secret is in this response only."""
    fields = body.snake()
    kind, target = fields.pop("kind"), fields.pop("target")
    return to_api(client_for(request, t).add_notification_channel(kind, target, **fields))


@router.get("/notification-channels")
def list_channels(
    request: Request, t: str = Depends(tenant), job_id: str | None = Query(default=None, alias="jobId", max_length=36)
) -> Any:
    return {"channels": to_api(client_for(request, t).list_notification_channels(job_id=job_id))}


@router.delete("/notification-channels/{channel_id}", status_code=204)
def remove_channel(channel_id: str, request: Request, t: str = Depends(tenant)) -> Response:
    client_for(request, t).remove_notification_channel(channel_id)
    return Response(status_code=204)


@router.get("/notifications")
def list_notifications(
    request: Request,
    t: str = Depends(tenant),
    endpoint_id: str | None = Query(default=None, alias="endpointId", max_length=36),
    channel_id: str | None = Query(default=None, alias="channelId", max_length=36),
    status: str | None = Query(default=None, description="pending, sent or failed"),
    limit: int = Query(default=100, ge=1, le=1000),
) -> Any:
    """Notifications, newest first, with their delivery status, attempts and last error."""
    found = client_for(request, t).list_notifications(
        endpoint_id=endpoint_id, channel_id=channel_id, status=status, limit=limit
    )
    return {"notifications": to_api(found)}


@router.put("/endpoints/{endpoint_id}/auto-pause")
def endpoint_auto_pause(endpoint_id: str, body: AutoPauseIn, request: Request, t: str = Depends(tenant)) -> Any:
    """Pause the endpoint after this many consecutive failures, until a person resumes it."""
    after = client_for(request, t).set_auto_pause(endpoint_id=endpoint_id, after_failures=body.after_failures)
    return {"endpointId": endpoint_id, "afterFailures": after}


@router.put("/jobs/{job_id}/auto-pause")
def job_auto_pause(job_id: str, body: AutoPauseIn, request: Request, t: str = Depends(tenant)) -> Any:
    """Pause each endpoint of the job after this many consecutive failures (an endpoint's own policy wins)."""
    after = client_for(request, t).set_auto_pause(job_id=job_id, after_failures=body.after_failures)
    return {"jobId": job_id, "afterFailures": after}
