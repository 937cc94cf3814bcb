"""Entry points of `cronicorn mcp`: settings read once, here; stdio for one tenant, HTTP for each key's."""

from __future__ import annotations

import logging

import redis
import uvicorn
from starlette.types import ASGIApp

from cronicorn.api.deps import Deps
from cronicorn.api.mcp.auth import ApiKeyAuth
from cronicorn.api.mcp.scope import Caller
from cronicorn.api.mcp.server import build_server
from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.store.engine import make_engine
from cronicorn.store.tenants import resolve_key

log = logging.getLogger(__name__)


def deps_from(settings: Settings) -> Deps:
    return Deps(
        engine=make_engine(settings.database_url),
        redis=redis.Redis.from_url(settings.effective_redis_url, socket_timeout=2, socket_connect_timeout=2),
        settings=settings,
        clock=utcnow,
    )


def local_caller(deps: Deps, api_key: str | None, tenant_id: str) -> Caller:
    """The key's tenant (and its tier's limits), or without a key the named local tenant, unlimited."""
    if not api_key:
        return Caller(tenant_id, None)
    found = resolve_key(deps.engine, api_key)
    if found is None:
        raise SystemExit("error: CRONICORN_API_KEY is not a valid, unrevoked API key")
    return Caller(found[0], found[2])


def run_stdio(settings: Settings, *, api_key: str | None, tenant_id: str) -> None:
    deps = deps_from(settings)
    build_server(deps, local_caller(deps, api_key, tenant_id)).run("stdio")


def http_app(deps: Deps, host: str = "127.0.0.1") -> ASGIApp:
    """Streamable HTTP at /mcp, every request authenticated by its API key and scoped to its tenant.

    Stateless: no session lives in one process, so replicas behind a load balancer serve any request
    (the tools need no server-to-client stream). Bound to a loopback `host`, the SDK also refuses other
    Host and Origin headers (DNS rebinding).
    """
    app = build_server(deps, None).streamable_http_app(
        host=host, stateless_http=True, max_request_body_size=deps.settings.api_max_request_bytes
    )
    return ApiKeyAuth(app, deps.engine)


def run_http(settings: Settings, *, host: str, port: int) -> None:
    uvicorn.run(http_app(deps_from(settings), host), host=host, port=port, log_level="warning")
