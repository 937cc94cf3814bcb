"""How a request body comes in: capped while it streams, so an oversized one is never read whole or parsed,
and read as JSON whatever its label.

Both are plain ASGI middleware, not `@app.middleware("http")`: that one reads the body in a task group,
which would wrap the cap's 413 into an exception group FastAPI answers with a generic 400.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cronicorn.api.errors import BodyTooLarge, error_response

_WITH_BODY = frozenset({"POST", "PATCH", "PUT"})


class JsonBody:
    """`curl -d '{...}'` sends form encoding; a JSON API reads the body as JSON whatever the label."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Only the REST API: the dashboard's forms are urlencoded and read as forms.
        if scope["type"] == "http" and scope["method"] in _WITH_BODY and scope["path"].startswith("/api/"):
            if not Headers(scope=scope).get("content-type", "").startswith("application/json"):
                headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
                scope["headers"] = [*headers, (b"content-type", b"application/json")]
        await self.app(scope, receive, send)


class BodyCap:
    """413 naming the limit for a body over `max_bytes`, whether it says its length up front or not."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            # Refused before a byte of it is read: announcing 20 MB costs the server nothing.
            detail = str(BodyTooLarge(self.max_bytes).detail)
            await error_response(413, detail, [{"field": "body", "reason": detail}])(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            # A chunked body has no length up front: it is stopped at the first chunk past the cap.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)
