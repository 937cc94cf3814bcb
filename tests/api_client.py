"""A REST API in-process for tests: a client that sends a tenant's API key, and the helpers the API tests share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.settings import Settings
from cronicorn.store.tenants import create_key, create_tenant

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def z(at: datetime) -> str:
    """How the API writes a UTC time."""
    return at.isoformat().replace("+00:00", "Z")


class Api:
    def __init__(self, http: TestClient, key: str) -> None:
        self.http, self.key = http, key

    def __call__(self, method: str, path: str, json: Any = None, key: str | None = None, **kw: Any) -> Any:
        headers = {"x-api-key": key or self.key}
        return self.http.request(method, "/api" + path, json=json, headers=headers, **kw)


ENDPOINT = {
    "name": "Health Check",
    "url": "https://api.example.com/health",
    "method": "GET",
    "baselineIntervalMs": 60000,
    "minIntervalMs": 10000,
    "maxIntervalMs": 300000,
    "timeoutMs": 10000,
}


def make(api: Api) -> tuple[str, dict[str, Any]]:
    job = api("POST", "/jobs", {"name": "Service Recovery Workflow"}).json()
    ep = api("POST", f"/jobs/{job['id']}/endpoints", ENDPOINT).json()
    return job["id"], ep


@contextmanager
def serve_api(
    engine: Engine, redis_conn: redis.Redis, tenants: dict[str, str], env: dict[str, str] | None = None
) -> Iterator[list[Api]]:
    """The API on `engine` (configured by `env`), one tenant per `name: tier` and an API client for each, in order."""
    keys = []
    for name, tier in tenants.items():
        create_tenant(engine, NOW, name, tier=tier)
        keys.append(create_key(engine, NOW, name, "ci")[1])
    settings = Settings.from_env(env or {})
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=settings, clock=lambda: NOW))
    with TestClient(app) as http:
        yield [Api(http, key) for key in keys]
