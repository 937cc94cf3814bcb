"""API key authentication for MCP over HTTP: every request names its tenant with a key, as REST does."""

from __future__ import annotations

import json

import anyio.to_thread
from sqlalchemy import Engine
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from cronicorn.api.mcp.scope import CALLER_KEY, Caller
from cronicorn.store.tenants import resolve_key


def presented_key(headers: Headers) -> str | None:
    """`Authorization: Bearer <key>` (what MCP clients send) or `x-api-key: <key>` (as REST accepts)."""
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    return headers.get("x-api-key") or None


class ApiKeyAuth:
    """ASGI middleware: a request without a valid, unrevoked key gets a 401 and never reaches the server."""

    def __init__(self, app: ASGIApp, engine: Engine) -> None:
        self.app = app
        self.engine = engine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan: the session manager starts and stops here
            await self.app(scope, receive, send)
            return
        key = presented_key(Headers(scope=scope))
        found = await anyio.to_thread.run_sync(resolve_key, self.engine, key) if key else None
        if found is None:
            reason = "invalid or revoked API key" if key else "missing API key: send Authorization: Bearer <key>"
            await _unauthorized(send, reason)
            return
        tenant_id, key_id, tier = found
        scope[CALLER_KEY] = Caller(tenant_id, tier, key_id)
        await self.app(scope, receive, send)


async def _unauthorized(send: Send, reason: str) -> None:
    body = json.dumps({"error": reason}).encode()
    headers = [(b"content-type", b"application/json"), (b"www-authenticate", b'Bearer realm="cronicorn"')]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})
