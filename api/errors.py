"""Every error as JSON naming what went wrong: 4xx for the caller's input, 503 only for a service that is down.

A database error is the database being unavailable only when the connection failed; a statement the
database refused because of a value in it (a DataError, a value no column can hold) is the caller's
input, answered 422, and anything else is our bug, answered 500 and logged, never dressed up as an outage.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import exc as sa
from starlette.exceptions import HTTPException as StarletteHTTPException

from cronicorn.core.casing import to_camel
from cronicorn.core.errors import Conflict, InvalidInput, NotFound

log = logging.getLogger(__name__)


class ErrorResponse(JSONResponse):
    """JSON written in ASCII: a message quoting the caller's input can never fail to encode."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def error_response(status: int, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    return ErrorResponse({"error": message, "details": details or []}, status_code=status)


def _invalid(details: list[dict[str, str]]) -> JSONResponse:
    return error_response(422, "invalid input: " + "; ".join(f"{d['field']}: {d['reason']}" for d in details), details)


class BodyTooLarge(StarletteHTTPException):
    """The request body passed the configured cap while streaming in (FastAPI re-raises HTTP exceptions as they are)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes (CRONICORN_API_MAX_REQUEST_BYTES)")


def _allowed_methods(app: FastAPI, path: str) -> set[str]:
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    return methods


_UNAVAILABLE = (sa.OperationalError, sa.InterfaceError, sa.DisconnectionError, sa.TimeoutError)
_UNSTORABLE_VALUES = (OverflowError, UnicodeError)  # raised while binding a value no column can hold


def database_answer(exc: sa.SQLAlchemyError) -> JSONResponse:
    """503 only when the database cannot be reached; a refused value is 422; anything else is our bug (500)."""
    if isinstance(exc, _UNAVAILABLE) or (isinstance(exc, sa.DBAPIError) and exc.connection_invalidated):
        log.warning("database unavailable: %s", exc)
        return error_response(503, f"database unavailable: {exc.__class__.__name__}")
    binding = isinstance(exc, sa.StatementError) and not isinstance(exc, sa.DBAPIError)
    if isinstance(exc, sa.DataError) or (binding and isinstance(getattr(exc, "orig", None), _UNSTORABLE_VALUES)):
        # Validation at the edges should have named the field; this is the net under it.
        log.warning("the database refused a value that passed validation", exc_info=exc)
        return _invalid([{"field": "input", "reason": "holds a value the database cannot store"}])
    if isinstance(exc, sa.IntegrityError):
        log.warning("integrity error", exc_info=exc)
        return error_response(409, "the change conflicts with stored data")
    log.error("database error", exc_info=exc)
    return error_response(500, f"internal error: {exc.__class__.__name__}")


def _detail(err: dict[str, Any]) -> dict[str, str]:
    """One of FastAPI's validation errors in our words: the field (camelCase, as sent) and why."""
    if err.get("type") == "json_invalid":  # its loc is a character offset, not a field
        where = err.get("loc", ("body", "?"))[-1]
        return {"field": "body", "reason": f"is not valid JSON at character {where}: {err.get('ctx', {}).get('error')}"}
    field = ""
    for part in err.get("loc", ()):
        if part in ("body", "query", "path"):
            continue
        # A position in a list is written as our own errors write it: `endpoints[0].name`.
        field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return {"field": field or "body", "reason": str(err.get("msg", "invalid"))}


HtmlPage = Callable[[Request, int, str, list[dict[str, str]]], Response]
_JSON_PATHS = ("/api", "/metrics", "/static")


def add_error_handlers(app: FastAPI) -> None:
    """Install the handlers: every answer besides a success is one of ours, in JSON."""

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        return _invalid([{"field": to_camel(e.field), "reason": e.reason} for e in exc.errors])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid([_detail(err) for err in exc.errors()])

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return error_response(404, str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return error_response(409, str(exc))

    @app.exception_handler(BodyTooLarge)
    async def too_large(_: Request, exc: BodyTooLarge) -> JSONResponse:
        return error_response(413, str(exc.detail), [{"field": "body", "reason": str(exc.detail)}])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "error parsing the body" (JSON nested past the recursion limit, a number of
            # thousands of digits, bytes that are not UTF-8): say which, and that it is the body.
            reason = f"cannot be read as JSON ({str(exc.__cause__)[:200] or exc.__cause__.__class__.__name__})"
            return error_response(400, f"malformed request body: {reason}", [{"field": "body", "reason": reason}])
        response = error_response(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only one route's methods; a path served by several routes allows them all.
            response.headers["Allow"] = ", ".join(sorted(_allowed_methods(app, request.url.path)))
        return response

    @app.exception_handler(redis.RedisError)
    async def redis_error(_: Request, exc: redis.RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return error_response(503, f"redis unavailable: {exc.__class__.__name__}")

    @app.exception_handler(sa.SQLAlchemyError)
    async def database_error(_: Request, exc: sa.SQLAlchemyError) -> JSONResponse:
        return database_answer(exc)

    @app.exception_handler(Exception)
    async def bug(_: Request, exc: Exception) -> JSONResponse:
        # Our bug, not the caller's: JSON like every other answer (the traceback goes to the log).
        return error_response(500, f"internal error: {exc.__class__.__name__}")


def errors_as_pages(app: FastAPI, html: HtmlPage) -> None:
    """Outside /api (the dashboard's pages), answer each error of `add_error_handlers` with the same
    status and message as a page made by `html`."""
    for kind, handler in list(app.exception_handlers.items()):
        app.exception_handlers[kind] = _as_page(handler, html)


def _as_page(handler: Callable[..., Any], html: HtmlPage) -> Callable[..., Any]:
    async def answer(request: Request, exc: Exception) -> Response:
        response: Response = await handler(request, exc)
        if request.url.path.startswith(_JSON_PATHS) or not isinstance(response, ErrorResponse):
            return response
        content = json.loads(bytes(response.body))
        page = html(request, response.status_code, str(content["error"]), list(content["details"]))
        for name in ("allow", "retry-after"):
            if name in response.headers:
                page.headers[name] = response.headers[name]
        return page

    return answer
