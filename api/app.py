"""The FastAPI application: routes under /api, errors that name the field, never a 5xx for input."""

from __future__ import annotations

import redis
from fastapi import Depends, FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from cronicorn.api import routes_control, routes_dependencies, routes_jobs, routes_notify, routes_read, routes_register
from cronicorn.api.dashboard import install_dashboard
from cronicorn.api.dashboard.render import error_page
from cronicorn.api.deps import Deps, storable_params
from cronicorn.api.errors import add_error_handlers, errors_as_pages
from cronicorn.api.request_body import BodyCap, JsonBody
from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.monitoring.health import tick_age
from cronicorn.monitoring.schedule_gauges import ScheduleCollector
from cronicorn.store.engine import make_engine
from cronicorn.telemetry.metrics import registry


def create_app(d: Deps) -> FastAPI:
    app = FastAPI(
        title="Cronicorn API",
        version="0.1.0",
        description="Adaptive HTTP job scheduler: jobs, endpoints, hints, runs and AI planner sessions.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # served by the dashboard from local assets (works offline)
        redoc_url=None,
    )
    app.state.deps = d
    for module in (routes_jobs, routes_control, routes_dependencies, routes_read, routes_notify, routes_register):
        # Every path and query parameter of every route is held to the storable-text rule (ids with a NUL: 422).
        app.include_router(module.router, prefix="/api", dependencies=[Depends(storable_params)])
    schedule_metrics = CollectorRegistry()

    def depths() -> dict[str, int] | None:
        try:
            return d.queue_depths()
        except Exception:  # noqa: BLE001 - Redis or AMQP: the scrape still answers, without the queue gauges
            return None

    schedule_metrics.register(ScheduleCollector(d.engine, d.clock, lambda: tick_age(d.redis, d.clock()), depths))

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus: this process's (or, in multiprocess mode, all processes') metrics and the schedule's."""
        body = generate_latest(registry() or REGISTRY) + generate_latest(schedule_metrics)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(JsonBody)
    app.add_middleware(BodyCap, max_bytes=d.settings.api_max_request_bytes)  # outermost: counts the raw bytes
    install_dashboard(app)
    add_error_handlers(app)
    errors_as_pages(app, error_page)
    return app


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
