"""Whose objects a tool sees: the local tenant on stdio, the API key's tenant on each HTTP request."""

from __future__ import annotations

from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import Any

from mcp.server.mcpserver import Context

from cronicorn.api.deps import Deps
from cronicorn.producer.client import Cronicorn

# Where the HTTP authentication (`cronicorn.api.mcp.auth`) leaves the caller in the request's ASGI scope.
CALLER_KEY = "cronicorn.mcp.caller"


@dataclass(frozen=True)
class Caller:
    tenant_id: str
    tier_name: str | None  # None: a trusted local producer, unlimited (as the Python client)


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
