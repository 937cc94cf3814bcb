"""Steering an endpoint: hints, pause, failures, run now, and a test call."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cronicorn.api.deps import client_for, deps, tenant
from cronicorn.api.schemas import ERRORS, BackfillIn, IntervalHintIn, OneShotHintIn, PauseIn, to_api
from cronicorn.core.casing import camel_word
from cronicorn.store import signing_keys as keyring

router = APIRouter(tags=["control"], responses=ERRORS)


@router.post("/endpoints/{endpoint_id}/hints/interval")
def interval_hint(endpoint_id: str, body: IntervalHintIn, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(
        client_for(request, t).set_interval_hint(endpoint_id, body.interval_ms, body.ttl_minutes, body.reason)
    )


@router.post("/endpoints/{endpoint_id}/hints/oneshot")
def oneshot_hint(endpoint_id: str, body: OneShotHintIn, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(
        client_for(request, t).set_oneshot_hint(
            endpoint_id,
            next_run_at=body.next_run_at,
            next_run_in_ms=body.next_run_in_ms,
            ttl_minutes=body.ttl_minutes,
            reason=body.reason,
        )
    )


@router.delete("/endpoints/{endpoint_id}/hints")
def clear_hints(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).clear_hints(endpoint_id))


@router.post("/endpoints/{endpoint_id}/pause")
def pause(endpoint_id: str, body: PauseIn, request: Request, t: str = Depends(tenant)) -> Any:
    client = client_for(request, t)
    if body.paused_until is None:
        return to_api(client.resume_endpoint(endpoint_id))
    return to_api(client.pause_endpoint(endpoint_id, body.paused_until, body.reason))


@router.post("/endpoints/{endpoint_id}/reset-failures")
def reset_failures(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).reset_failures(endpoint_id))


@router.post("/endpoints/{endpoint_id}/run-now")
def run_now(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    return to_api(client_for(request, t).run_now(endpoint_id))


@router.post("/endpoints/{endpoint_id}/backfill")
def backfill(endpoint_id: str, body: BackfillIn, request: Request, t: str = Depends(tenant)) -> Any:
    """Run the endpoint's slots in [since, until) now, oldest first, each as its own run (source backfill,
    its own Idempotency-Key), at most 1000 of them; the schedule resumes after the last."""
    return to_api(client_for(request, t).backfill(endpoint_id, body.since, body.until))


@router.post("/endpoints/{endpoint_id}/test")
def test_call(endpoint_id: str, request: Request, t: str = Depends(tenant)) -> Any:
    """Call the endpoint once, now, and return what it answered. No run is stored and the schedule is untouched."""
    outcome = client_for(request, t).test_call(endpoint_id, deps(request).http, deps(request).keyring)
    return to_api({**outcome.__dict__, "error_kind": outcome.error_kind.value if outcome.error_kind else None})


class RotateIn(BaseModel):
    model_config = ConfigDict(alias_generator=camel_word, populate_by_name=True, extra="forbid")
    grace_minutes: StrictInt = Field(
        default=1440, ge=0, le=43_200, description="how long the previous keys keep signing"
    )


@router.post("/signing-keys", status_code=201, tags=["signing"])
def rotate_signing_key(request: Request, body: RotateIn | None = None, t: str = Depends(tenant)) -> Any:
    """A new signing key (its secret is shown only here); the previous keys keep signing for the grace period."""
    d = deps(request)
    info, secret = keyring.rotate_signing_key(
        d.engine, d.clock(), t, grace=timedelta(minutes=(body or RotateIn()).grace_minutes)
    )
    return to_api({**info.__dict__, "secret": secret})


@router.get("/signing-keys", tags=["signing"])
def list_signing_keys(request: Request, t: str = Depends(tenant)) -> Any:
    return {"signingKeys": to_api(keyring.list_signing_keys(deps(request).engine, t))}
