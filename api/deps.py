"""What every route needs: the engine, Redis, the clock, and the caller's tenant from its API key."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
from fastapi import Header, HTTPException, Request
from sqlalchemy import Engine

from shared.client import Cronicorn
from shared.settings import Settings
from shared.tenants import tenant_for_key


@dataclass(frozen=True)
class Deps:
    engine: Engine
    redis: redis.Redis
    settings: Settings
    clock: Callable[[], datetime]


def deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


def tenant(request: Request, x_api_key: str | None = Header(default=None), authorization: str | None = Header(default=None)) -> str:
    """The tenant of the presented key (`x-api-key: <key>` or `Authorization: Bearer <key>`)."""
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(401, "missing API key: send x-api-key or Authorization: Bearer")
    found = tenant_for_key(deps(request).engine, key)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key")
    return found


def client_for(request: Request, tenant_id: str) -> Cronicorn:
    d = deps(request)
    return Cronicorn(d.engine, tenant_id=tenant_id, clock=d.clock)
