"""The client's reads beyond records: a test call of an endpoint, its run health, the dashboard; all tenant-scoped."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from cronicorn.core.clock import utcnow
from cronicorn.core.errors import NotFound
from cronicorn.http.call import HttpCaller
from cronicorn.http.ssrf import AddressGuard
from cronicorn.producer.client import Cronicorn
from cronicorn.store.run_stats import DashboardStats, EndpointHealth, RunWindow
from cronicorn.store.signing_keys import KeyRing, rotate_signing_key
from cronicorn.store.tables import runs
from cronicorn.store.tenants import create_tenant
from tests.clients import snapshot
from tests.receiver import verifies
from tests.targets import TargetServer


def _http() -> HttpCaller:
    return HttpCaller(guard=AddressGuard(["127.0.0.0/8"]), signing_key=b"installation")


def _add(client: Cronicorn, url: str = "https://api.example.com/x", **fields: Any) -> tuple[str, str]:
    job = client.create_job(name="j")
    return job.id, client.add_endpoint(job.id, name="e", url=url, baseline_interval_ms=60_000, **fields).id


# --- test call -------------------------------------------------------------------------------
def test_a_test_call_sends_the_stored_request_signed_with_the_tenants_key_and_stores_nothing(
    engine: Engine,
    target: TargetServer,
) -> None:
    now = utcnow()
    create_tenant(engine, now, "acme")
    _, secret = rotate_signing_key(engine, now, "acme", grace=timedelta(hours=1))
    acme = Cronicorn(engine, tenant_id="acme")
    _, ep = _add(acme, target.url("/echo"), method="POST", body={"x": 1})
    before = snapshot(engine)
    outcome = acme.test_call(ep, _http(), KeyRing(engine, b"installation", utcnow))
    assert outcome.ok and outcome.status_code == 200 and outcome.body_json["body"] == {"x": 1}
    [seen] = target.requests_to("/echo")
    assert seen.method == "POST" and verifies(secret, seen)
    assert not verifies(b"installation", seen)
    assert snapshot(engine) == before


def test_a_test_call_of_another_tenants_endpoint_is_not_found_and_calls_nothing(
    engine: Engine,
    target: TargetServer,
) -> None:
    _, ep = _add(Cronicorn(engine, tenant_id="acme"), target.url("/echo"))
    with pytest.raises(NotFound):
        Cronicorn(engine, tenant_id="other").test_call(ep, _http(), KeyRing(engine, b"installation", utcnow))
    assert target.requests_to("/echo") == []


# --- health and dashboard ----------------------------------------------------------------------
def _run(engine: Engine, job_id: str, endpoint_id: str, i: int, status: str, started_at: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id=str(uuid.uuid4()),
                endpoint_id=endpoint_id,
                job_id=job_id,
                status=status,
                scheduled_at=started_at,
                attempt=1,
                fence=i + 1,
                started_at=started_at,
                duration_ms=100 * (i + 1),
            )
        )


def test_endpoint_health_counts_finished_runs_per_window_and_the_failure_streak(
    client: Cronicorn,
    engine: Engine,
    now: datetime,
) -> None:
    job, ep = _add(client)
    for i, (status, ago) in enumerate([("success", 20), ("failed", 3), ("failed", 0.5), ("running", 0.1)]):
        _run(engine, job, ep, i, status, now - timedelta(hours=ago))
    assert client.endpoint_health(ep) == EndpointHealth(
        last_hour=RunWindow(runs=1, success_rate=0.0, avg_duration_ms=300.0),
        last_4_hours=RunWindow(runs=2, success_rate=0.0, avg_duration_ms=250.0),
        last_day=RunWindow(runs=3, success_rate=0.333, avg_duration_ms=200.0),
        failure_streak=2,
    )
    with pytest.raises(NotFound):
        Cronicorn(engine, tenant_id="other").endpoint_health(ep)


def test_dashboard_stats_count_only_the_tenants_objects_and_the_last_day(
    client: Cronicorn,
    engine: Engine,
    now: datetime,
) -> None:
    job, ep = _add(client)
    other_job, other_ep = _add(Cronicorn(engine, tenant_id="other"))
    client.pause_job(client.create_job(name="paused").id)
    for i, (status, ago) in enumerate([("success", 1), ("success", 2), ("failed", 3), ("running", 0), ("success", 25)]):
        _run(engine, job, ep, i, status, now - timedelta(hours=ago))
    _run(engine, other_job, other_ep, 0, "failed", now)
    assert client.dashboard_stats() == DashboardStats(
        jobs={"active": 1, "paused": 1},
        endpoints=1,
        runs_24h={"success": 2, "failed": 1, "running": 1},
        success_rate_24h=0.6667,
    )
    assert Cronicorn(engine, tenant_id="empty").dashboard_stats() == DashboardStats(
        jobs={},
        endpoints=0,
        runs_24h={},
        success_rate_24h=None,
    )
