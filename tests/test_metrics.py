"""Prometheus metrics after real runs through real workers, and the schedule's forecast at scrape time."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.shell.bundled_redis import free_port
from cronicorn.store.tables import endpoints, runs
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL
from tests.targets import TargetServer


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")) and not (not labels and line.startswith(name + "{")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_the_forecast_and_backlog_are_read_from_the_schedule(engine: Engine, redis_conn: redis.Redis) -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    client = Cronicorn(engine, clock=lambda: now)
    job = client.create_job(name="forecast")
    for i, interval in enumerate([60_000, 120_000, 240_000, 600_000, 3_600_000]):
        client.add_endpoint(job.id, name=f"e{i}", url="https://x.example/", baseline_interval_ms=interval)
    late = client.add_endpoint(job.id, name="late", url="https://x.example/", baseline_interval_ms=60_000)
    client.run_now(late.id)  # due now: backlog
    redis_conn.set("cronicorn:tick:last", (now - timedelta(seconds=3)).isoformat())
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: now))
    with TestClient(app) as http:
        text = http.get("/metrics").text
    assert sample(text, "cronicorn_due_forecast_5m") == 3  # 1, 2 and 4 minutes away; 10 and 60 are not
    assert sample(text, "cronicorn_due_backlog") == 1
    assert sample(text, "cronicorn_tick_age_seconds") == 3.0


@pytest.mark.e2e
def test_worker_metrics_match_the_runs_stored(
    pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path, target: TargetServer
) -> None:
    client = Cronicorn(pg_engine)
    job = client.create_job(name="metrics")
    eps = [
        client.add_endpoint(job.id, name=f"m{i}", url=target.url("/ok"), baseline_interval_ms=1000) for i in range(2)
    ]
    failing = client.add_endpoint(job.id, name="bad", url=target.url("/status/500"), baseline_interval_ms=1000)
    port = free_port()
    cluster = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path)
    try:
        cluster.start_worker("scheduler")
        cluster.start_worker("execute", concurrency=4, env={"CRONICORN_METRICS_PORT": str(port)})
        cluster.start_beat()
        wait_for(lambda: all(len(client.list_runs(endpoint_id=e.id).runs) >= 3 for e in eps), 40, "runs")
        app = create_app(
            Deps(engine=pg_engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: datetime.now(UTC))
        )
        with TestClient(app) as http:
            assert sample(http.get("/metrics").text, "cronicorn_tick_age_seconds") < 5  # beat and ticks alive
        cluster.kill("beat")  # no more ticks: the counts settle
        time.sleep(3)
        text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
    with pg_engine.connect() as conn:
        stored = list(conn.execute(select(runs.c.status, runs.c.source, runs.c.started_at, runs.c.scheduled_at)))
    ok = sum(1 for r in stored if r.status == "success")
    bad = sum(1 for r in stored if r.status == "failed")
    assert ok >= 6 and bad >= 1
    assert sample(text, "cronicorn_runs_total", status="success", source="baseline-interval") == ok
    assert sample(text, "cronicorn_runs_total", status="failed", source="baseline-interval") == bad
    assert sample(text, "cronicorn_run_errors_total", error_kind="http_status") == bad
    assert sample(text, "cronicorn_dispatch_lag_seconds_count") == len(stored)
    lags = sorted((r.started_at - r.scheduled_at).total_seconds() for r in stored)
    assert sample(text, "cronicorn_dispatch_lag_seconds_bucket", le="+Inf") == len(stored)
    assert sample(text, "cronicorn_dispatch_lag_seconds_bucket", le="2.0") == sum(1 for lag in lags if lag <= 2.0)
    assert failing.id  # the failing endpoint's runs are the failed ones counted above


def test_failing_paused_overdue_and_queued_work_is_read_at_scrape_time(engine: Engine, redis_conn: redis.Redis) -> None:
    # Given endpoints in each state an operator alerts on
    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    client = Cronicorn(engine, clock=lambda: now)
    job = client.create_job(name="states")
    eps = [
        client.add_endpoint(job.id, name=f"e{i}", url="https://x.example/", baseline_interval_ms=60_000)
        for i in range(5)
    ]
    with engine.begin() as conn:
        for ep, failures in zip(eps, [1, 3, 6, 12, 0], strict=True):
            conn.execute(endpoints.update().where(endpoints.c.id == ep.id).values(failure_count=failures))
        # the last one has been due for 90 s and nobody claimed it
        conn.execute(
            endpoints.update().where(endpoints.c.id == eps[4].id).values(next_run_at=now - timedelta(seconds=90))
        )
    client.pause_endpoint(eps[0].id, now + timedelta(hours=1), reason="maintenance")
    paused_job = client.create_job(name="paused")
    client.add_endpoint(paused_job.id, name="p", url="https://x.example/", baseline_interval_ms=60_000)
    client.pause_job(paused_job.id)
    archived = client.add_endpoint(job.id, name="gone", url="https://x.example/", baseline_interval_ms=60_000)
    client.archive_endpoint(archived.id)
    redis_conn.rpush("execute", "m1", "m2")
    # When Prometheus scrapes the API
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: now))
    with TestClient(app) as http:
        text = http.get("/metrics").text
    # Then each is counted, archived endpoints aside
    assert [sample(text, "cronicorn_endpoints_failing", at_least=str(n)) for n in (1, 3, 5, 10)] == [4, 3, 2, 1]
    assert sample(text, "cronicorn_endpoints_paused") == 2
    assert sample(text, "cronicorn_oldest_overdue_seconds") == 90.0
    assert sample(text, "cronicorn_queue_depth", queue="execute") == 2
    assert sample(text, "cronicorn_queue_depth", queue="scheduler") == 0
