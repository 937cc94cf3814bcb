"""What every route needs: the engine, Redis, the clock, and the caller's tenant from its API key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

import redis
from fastapi import Header, HTTPException, Request, Response
from sqlalchemy import Engine

from cronicorn.core.errors import FieldError, InvalidInput
from cronicorn.core.settings import Settings
from cronicorn.core.tiers import Tier, parse_tiers
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.monitoring.health import queue_depth_reader
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.storable import text_problem
from cronicorn.redis.rate_limits import hit
from cronicorn.store.installation import signing_key
from cronicorn.store.signing_keys import KeyRing
from cronicorn.store.tenants import resolve_key

WRITES = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class Deps:
    engine: Engine
    redis: redis.Redis
    settings: Settings
    clock: Callable[[], datetime]

    @cached_property
    def tiers(self) -> dict[str, Tier]:
        # Parsed once per process, not on every request (settings never change while serving).
        return parse_tiers(self.settings.tiers_json)

    @cached_property
    def caps(self) -> InputCaps:
        return InputCaps.of(self.settings)

    @cached_property
    def http(self) -> HttpCaller:
        """The same guarded, signing HTTP caller the execute workers use (for test calls)."""
        return HttpCaller(
            guard=AddressGuard(self.settings.ssrf_allow),
            signing_key=self.installation_key,
            max_redirects=self.settings.max_redirects,
        )

    @cached_property
    def installation_key(self) -> bytes:
        return signing_key(self.engine, self.settings.signing_key, self.clock())

    @cached_property
    def keyring(self) -> KeyRing:
        return KeyRing(self.engine, self.installation_key, self.clock)

    @cached_property
    def queue_depths(self) -> Callable[[], dict[str, int]]:
        """The role queues' depths on the configured broker (health, metrics and the dashboard)."""
        return queue_depth_reader(self.settings, self.redis)


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    key_id: str
    tier: Tier | None


def deps(request: Request) -> Deps:
    return request.app.state.deps  # type: ignore[no-any-return]


def storable_params(request: Request) -> None:
    """Refuse a path or query parameter (an id, a filter) holding text no store can keep, naming it."""
    params = [*request.path_params.items(), *request.query_params.multi_items()]
    errors = [FieldError(name, problem) for name, value in params if (problem := text_problem(str(value)))]
    if errors:
        raise InvalidInput(errors)


def tenant(
    request: Request,
    response: Response,
    x_api_key: str | None = Header(default=None),
    authorization: str | None = Header(default=None),
) -> str:
    """The tenant of the presented key (`x-api-key: <key>` or `Authorization: Bearer <key>`), rate limited per key."""
    key = x_api_key
    if key is None and authorization and authorization.lower().startswith("bearer "):
        key = authorization[7:].strip()
    if not key:
        raise HTTPException(401, "missing API key: send x-api-key or Authorization: Bearer")
    d = deps(request)
    found = resolve_key(d.engine, key)
    if found is None:
        raise HTTPException(401, "invalid or revoked API key")
    tenant_id, key_id, tier_name = found
    write = request.method in WRITES
    limit = d.settings.api_writes_per_min if write else d.settings.api_reads_per_min
    decision = hit(d.redis, key_id, "write" if write else "read", limit, now_s=time.time())
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_s),
    }
    if not decision.allowed:
        raise HTTPException(
            429,
            f"rate limit of {limit} {'writes' if write else 'reads'} per minute reached for this key",
            headers={**headers, "Retry-After": str(decision.reset_s)},
        )
    response.headers.update(headers)
    request.state.caller = Caller(tenant_id, key_id, d.tiers.get(tier_name))
    return tenant_id


def client_for(request: Request, tenant_id: str) -> Cronicorn:
    d = deps(request)
    caller: Caller | None = getattr(request.state, "caller", None)
    return Cronicorn(d.engine, tenant_id=tenant_id, clock=d.clock, tier=caller.tier if caller else None, caps=d.caps)
