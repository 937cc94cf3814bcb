"""The FastAPI application: routes under /api, errors that name the field, never a 5xx for input."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from cronicorn.api import routes_control, routes_jobs, routes_read
from cronicorn.api.deps import Deps
from cronicorn.core.casing import to_camel
from cronicorn.core.clock import utcnow
from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.core.settings import Settings
from cronicorn.monitoring.health import tick_age
from cronicorn.monitoring.schedule_gauges import ScheduleCollector
from cronicorn.store.engine import make_engine
from cronicorn.telemetry.metrics import registry

log = logging.getLogger(__name__)


def _error(status: int, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "details": details or []}, status_code=status)


def _allowed_methods(app: FastAPI, path: str) -> set[str]:
    methods: set[str] = set()
    for route in app.routes:
        if isinstance(route, APIRoute) and route.path_regex.match(path):
            methods |= route.methods or set()
    return methods


def create_app(d: Deps) -> FastAPI:
    app = FastAPI(
        title="Cronicorn API",
        version="0.1.0",
        description="Adaptive HTTP job scheduler: jobs, endpoints, hints, runs and AI planner sessions.",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.deps = d
    for module in (routes_jobs, routes_control, routes_read):
        app.include_router(module.router, prefix="/api")
    schedule_metrics = CollectorRegistry()
    schedule_metrics.register(ScheduleCollector(d.engine, d.clock, lambda: tick_age(d.redis, d.clock())))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus: this process's (or, in multiprocess mode, all processes') metrics and the schedule's."""
        body = generate_latest(registry() or REGISTRY) + generate_latest(schedule_metrics)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.middleware("http")
    async def json_without_content_type(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # `curl -d '{...}'` sends form encoding; a JSON API reads the body as JSON whatever the label.
        ctype = request.headers.get("content-type", "")
        if request.method in ("POST", "PATCH", "PUT") and not ctype.startswith("application/json"):
            headers = [(k, v) for k, v in request.scope["headers"] if k != b"content-type"]
            request.scope["headers"] = [*headers, (b"content-type", b"application/json")]
        return await call_next(request)

    _add_error_handlers(app)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    """Every error as JSON naming what went wrong: 4xx for the caller's input, 503 for a service down, never 500."""

    @app.exception_handler(InvalidInput)
    async def invalid(_: Request, exc: InvalidInput) -> JSONResponse:
        details = [{"field": to_camel(e.field), "reason": e.reason} for e in exc.errors]
        return _error(422, "invalid input: " + "; ".join(f"{d['field']}: {d['reason']}" for d in details), details)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            details.append({"field": ".".join(loc) or "body", "reason": str(err.get("msg", "invalid"))})
        return _error(422, "invalid input: " + "; ".join(f"{d['field']}: {d['reason']}" for d in details), details)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return _error(404, str(exc))

    @app.exception_handler(Conflict)
    async def conflict(_: Request, exc: Conflict) -> JSONResponse:
        return _error(409, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, str(exc.detail))
        response.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # Starlette lists only one route's methods; a path served by several routes allows them all.
            response.headers["Allow"] = ", ".join(sorted(_allowed_methods(app, request.url.path)))
        return response

    @app.exception_handler(redis.RedisError)
    async def redis_error(_: Request, exc: redis.RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return _error(503, f"redis unavailable: {exc.__class__.__name__}")

    @app.exception_handler(SQLAlchemyError)
    async def database_error(_: Request, exc: SQLAlchemyError) -> JSONResponse:
        log.exception("database error")
        return _error(503, f"database unavailable: {exc.__class__.__name__}")


def app_from_env() -> FastAPI:
    """The uvicorn entry point (`uvicorn --factory cronicorn.api.app:app_from_env`): settings read once, here."""
    settings = Settings.from_env()
    d = Deps(
        engine=make_engine(settings.database_url),
        redis=redis.Redis.from_url(settings.effective_redis_url, socket_timeout=2),
        settings=settings,
        clock=utcnow,
    )
    return create_app(d)
