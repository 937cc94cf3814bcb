"""Over HTTP end to end: create a job and endpoints through the API, watch real workers run them, steer with a hint."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.store.tenants import create_key, create_tenant
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e


def test_jobs_created_over_http_run_on_workers_and_a_hint_moves_the_next_run(
    pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path, target: TargetServer
) -> None:
    create_tenant(pg_engine, utcnow(), "acme", tier="enterprise")
    _, key = create_key(pg_engine, utcnow(), "acme", "e2e")
    app = create_app(Deps(engine=pg_engine, redis=redis_conn, settings=Settings.from_env({}), clock=utcnow))
    cluster = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path)
    headers = {"x-api-key": key}
    with TestClient(app) as http:
        job = http.post("/api/jobs", json={"name": "over-http"}, headers=headers).json()
        fast = http.post(
            f"/api/jobs/{job['id']}/endpoints",
            headers=headers,
            json={"name": "fast", "url": target.url("/ok"), "baselineIntervalMs": 1000},
        ).json()
        slow = http.post(
            f"/api/jobs/{job['id']}/endpoints",
            headers=headers,
            json={"name": "slow", "url": target.url("/ok"), "baselineIntervalMs": 3_600_000},
        ).json()
        try:
            cluster.start_all()
            wait_for(
                lambda: http.get(f"/api/endpoints/{fast['id']}/runs", headers=headers).json()["total"] >= 2,
                40,
                "runs over HTTP",
            )
            page = http.get(f"/api/endpoints/{fast['id']}/runs", headers=headers, params={"status": "success"}).json()
            assert page["runs"][0]["statusCode"] == 200 and page["runs"][0]["responseBody"]["status"] == "healthy"
            assert http.get(f"/api/endpoints/{slow['id']}/runs", headers=headers).json()["total"] == 0  # an hour away
            moved = http.post(
                f"/api/endpoints/{slow['id']}/hints/oneshot", headers=headers, json={"nextRunInMs": 0, "reason": "now"}
            ).json()
            assert moved["nextRunSource"] == "ai-oneshot"
            wait_for(
                lambda: http.get(f"/api/endpoints/{slow['id']}/runs", headers=headers).json()["total"] >= 1,
                20,
                "the hinted run",
            )
            assert wait_for(lambda: http.get("/api/health").status_code == 200, 10, "healthy with fresh ticks")
        except AssertionError:
            print(cluster.logs())
            raise
        finally:
            cluster.stop()
