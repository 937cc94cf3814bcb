"""Whose objects a tool sees: the local tenant on stdio, the API key's tenant on each HTTP request."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from cronicorn.api.deps import Deps
from cronicorn.producer.client import Cronicorn
from cronicorn.redis.rate_limits import hit

# Where the HTTP authentication (`cronicorn.api.mcp.auth`) leaves the caller in the request's ASGI scope.
CALLER_KEY = "cronicorn.mcp.caller"


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    tier_name: str | None  # None: a trusted local producer, unlimited (as the Python client)
    key_id: str | None = None  # the API key presented over HTTP: its rate limits apply, as on REST


class Scope:
    """Builds the tenant-scoped client every tool works through, as the REST routes do (`api.deps.client_for`)."""

    def __init__(self, deps: Deps, local: Caller | None) -> None:
        self.deps = deps
        self.local = local

    def caller(self, ctx: Context) -> Caller:
        if self.local is not None:
            return self.local
        request = ctx.request_context.request
        caller = getattr(request, "scope", {}).get(CALLER_KEY)
        if not isinstance(caller, Caller):  # the HTTP app is always wrapped in the key check; never serve unscoped
            raise PermissionError("no authenticated caller on this request")
        return caller

    def check_rate(self, ctx: Context, *, write: bool) -> None:
        """REST's per-key limits (reads and writes per minute, shared through Redis) for a key's calls."""
        caller = self.caller(ctx)
        if caller.key_id is None:
            return
        settings = self.deps.settings
        limit = settings.api_writes_per_min if write else settings.api_reads_per_min
        kind = "write" if write else "read"
        decision = hit(self.deps.redis, caller.key_id, kind, limit, now_s=time.time())
        if not decision.allowed:
            raise ToolError(
                f"rate limit of {limit} {kind}s per minute reached for this key; retry in {decision.reset_s} s"
            )

    def client(self, ctx: Context) -> Cronicorn:
        caller = self.caller(ctx)
        d = self.deps
        tier = d.tiers.get(caller.tier_name) if caller.tier_name else None
        return Cronicorn(d.engine, tenant_id=caller.tenant_id, clock=d.clock, tier=tier, caps=d.caps)


def to_json(value: Any) -> Any:
    """A record as plain JSON values (snake_case fields, ISO 8601 times), recursively."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def record(value: Any) -> dict[str, Any]:
    """A record (dataclass or mapping) as a JSON object: what every tool returns."""
    out = to_json(value)
    if not isinstance(out, dict):
        raise TypeError(f"a tool returns an object, not {type(out).__name__}")
    return out
