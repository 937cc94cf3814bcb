"""The REST API over real databases and Redis: routes, camelCase, status codes, errors, tenants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.redis.keys import last_tick
from cronicorn.store.tables import runs
from cronicorn.store.tenants import create_key, revoke_key
from tests.api_client import ENDPOINT, NOW, Api, make, z


def test_keys_are_required_and_revoked_keys_refused(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, engine = api_pair
    assert api.http.get("/api/jobs").status_code == 401
    assert api("GET", "/jobs", key="ck_wrong").status_code == 401
    bearer = api.http.get("/api/jobs", headers={"Authorization": f"Bearer {api.key}"})
    assert bearer.status_code == 200
    key, plain = create_key(engine, NOW, "acme", "temp")
    assert api("GET", "/jobs", key=plain).status_code == 200
    revoke_key(engine, NOW, key.id)
    assert api("GET", "/jobs", key=plain).status_code == 401


def test_the_seed_recovery_workflow_can_be_set_up_as_written(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    job = api("POST", "/jobs", {"name": "Service Recovery Workflow"})
    assert job.status_code == 201 and job.json()["name"] == "Service Recovery Workflow" and "id" in job.json()
    job_id = job.json()["id"]
    health = api("POST", f"/jobs/{job_id}/endpoints", {**ENDPOINT, "description": "Monitors service health."})
    assert health.status_code == 201
    body = health.json()
    assert (
        body["baselineIntervalMs"] == 60000
        and body["minIntervalMs"] == 10000
        and body["nextRunAt"]
        and body["jobId"] == job_id
    )
    recovery = api(
        "POST",
        f"/jobs/{job_id}/endpoints",
        {
            "name": "Trigger Recovery",
            "url": "https://api.example.com/admin/restart",
            "method": "POST",
            "baselineIntervalMs": 3600000,
            "minIntervalMs": 300000,
            "timeoutMs": 30000,
            "description": "Recovery action.",
        },
    )
    assert recovery.status_code == 201
    runs_page = api("GET", f"/endpoints/{body['id']}/runs", params={"limit": 10})
    assert runs_page.status_code == 200 and runs_page.json() == {"runs": [], "total": 0}
    sessions = api("GET", f"/endpoints/{recovery.json()['id']}/sessions", params={"limit": 5})
    assert sessions.status_code == 200 and sessions.json() == {"sessions": []}


def test_a_body_sent_without_a_json_content_type_is_still_read_as_json(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    # curl -X POST .../api/jobs -H "x-api-key: ..." -d '{"name": "Data Sync"}'  (form content type)
    response = api.http.post(
        "/api/jobs",
        content=b'{"name": "Data Sync"}',
        headers={"x-api-key": api.key, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 201 and response.json()["name"] == "Data Sync"


def test_jobs_routes(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    created = {api("POST", "/jobs", {"name": f"j{i}"}).json()["id"] for i in range(3)}
    ids = [j["id"] for j in api("GET", "/jobs").json()["jobs"]]  # the API's stable order
    assert set(ids) == created
    assert [j["id"] for j in api("GET", "/jobs", params={"limit": 2}).json()["jobs"]] == ids[:2]
    assert [j["id"] for j in api("GET", "/jobs", params={"limit": 2, "offset": 2}).json()["jobs"]] == ids[2:]
    assert api("PATCH", f"/jobs/{ids[0]}", {"description": "d"}).json()["description"] == "d"
    assert api("POST", f"/jobs/{ids[0]}/pause").json()["status"] == "paused"
    assert [j["id"] for j in api("GET", "/jobs", params={"status": "paused"}).json()["jobs"]] == [ids[0]]
    assert api("POST", f"/jobs/{ids[0]}/resume").json()["status"] == "active"
    assert api("DELETE", f"/jobs/{ids[1]}").status_code == 204
    assert api("GET", f"/jobs/{ids[1]}").json()["status"] == "archived"
    assert api("POST", f"/jobs/{ids[1]}/resume").status_code == 409


def test_endpoint_routes(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    job_id, ep = make(api)
    listed = api("GET", f"/jobs/{job_id}/endpoints").json()["endpoints"]
    assert [e["id"] for e in listed] == [ep["id"]]
    assert api("GET", f"/jobs/{job_id}/endpoints/{ep['id']}").json()["name"] == "Health Check"
    patched = api(
        "PATCH", f"/jobs/{job_id}/endpoints/{ep['id']}", {"baselineIntervalMs": 120000, "headersJson": {"X-A": "1"}}
    )
    assert (
        patched.status_code == 200
        and patched.json()["baselineIntervalMs"] == 120000
        and patched.json()["headersJson"] == {"X-A": "1"}
    )
    cleared = api("PATCH", f"/jobs/{job_id}/endpoints/{ep['id']}", {"maxIntervalMs": None})
    assert cleared.json()["maxIntervalMs"] is None
    other_job = api("POST", "/jobs", {"name": "x"}).json()["id"]
    assert api("GET", f"/jobs/{other_job}/endpoints/{ep['id']}").status_code == 404  # not in that job
    assert api("POST", f"/jobs/{job_id}/endpoints/{ep['id']}/archive").json()["archivedAt"]
    assert api("GET", f"/jobs/{job_id}/endpoints").json()["endpoints"] == []
    assert len(api("GET", f"/jobs/{job_id}/endpoints", params={"includeArchived": "true"}).json()["endpoints"]) == 1
    second = api("POST", f"/jobs/{job_id}/endpoints", {**ENDPOINT, "name": "two"}).json()
    assert api("DELETE", f"/jobs/{job_id}/endpoints/{second['id']}").status_code == 204


def test_retry_settings_go_in_and_come_out_in_camel_case(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    job_id, ep = make(api)
    assert (ep["retryMaxAttempts"], ep["retryOn"], ep["retrySlotAt"], ep["notBeforeAt"]) == (
        0,
        ["timeout", "connection", "5xx", "429"],
        None,
        None,
    )
    patched = api(
        "PATCH",
        f"/jobs/{job_id}/endpoints/{ep['id']}",
        {"retryMaxAttempts": 3, "retryBackoffMs": 2000, "retryBackoffMaxMs": 20000, "retryOn": ["429"]},
    ).json()
    assert (patched["retryMaxAttempts"], patched["retryBackoffMs"], patched["retryBackoffMaxMs"]) == (3, 2000, 20000)
    assert patched["retryOn"] == ["429"] and patched["retryNumber"] == 0
    planned = api("GET", f"/endpoints/{ep['id']}/explain", params={"n": 1}).json()["planned"]
    assert planned == [{"at": patched["nextRunAt"], "source": patched["nextRunSource"], "note": None, "detail": None}]


def test_hints_pause_and_failures_move_the_next_run_at_once(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    _, ep = make(api)
    hinted = api(
        "POST", f"/endpoints/{ep['id']}/hints/interval", {"intervalMs": 15000, "ttlMinutes": 30, "reason": "incident"}
    ).json()
    assert hinted["aiHintIntervalMs"] == 15000 and hinted["nextRunAt"] == z(NOW + timedelta(seconds=15))
    assert hinted["notes"] == []  # inside the guardrails: nothing changed
    once = api("POST", f"/endpoints/{ep['id']}/hints/oneshot", {"nextRunInMs": 5000}).json()
    assert once["nextRunAt"] == z(NOW + timedelta(seconds=5)) and once["nextRunSource"] == "ai-oneshot"
    assert api("DELETE", f"/endpoints/{ep['id']}/hints").json()["aiHintIntervalMs"] is None
    until = NOW + timedelta(hours=1)
    paused = api(
        "POST", f"/endpoints/{ep['id']}/pause", {"pausedUntil": until.isoformat(), "reason": "maintenance"}
    ).json()
    assert paused["pausedUntil"] == z(until) and paused["nextRunAt"] == z(until)
    assert api("POST", f"/endpoints/{ep['id']}/run-now").status_code == 409
    assert api("POST", f"/endpoints/{ep['id']}/pause", {"pausedUntil": None}).json()["pausedUntil"] is None
    assert api("POST", f"/endpoints/{ep['id']}/reset-failures").json()["failureCount"] == 0
    assert api("POST", f"/endpoints/{ep['id']}/run-now").json()["nextRunAt"] == z(NOW)


def test_a_hint_the_guardrails_clamp_says_so_in_the_response(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    _, ep = make(api)
    fast = api("POST", f"/endpoints/{ep['id']}/hints/interval", {"intervalMs": 1000, "reason": "x"}).json()
    assert fast["notes"] == [
        "the interval hint of 1000 ms was clamped to 10000 ms: the endpoint's minimum interval (min_interval_ms) "
        "keeps its runs at least 10000 ms apart"
    ]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"baselineIntervalMs": 10}, "baselineIntervalMs"),
        ({"url": "ftp://x"}, "url"),
        ({"timezone": "Mars/Base"}, "timezone"),
        ({"minIntervalMs": 900000}, "minIntervalMs"),
        ({"bodyJson": {"a": 1}}, "bodyJson"),
        ({"colour": "red"}, "colour"),
        ({"timeoutMs": "soon"}, "timeoutMs"),
        ({"upstreamEndpointIds": ["nope"]}, "upstreamEndpointIds[0]"),
        ({"retryMaxAttempts": 11}, "retryMaxAttempts"),
        ({"retryOn": ["5xx", "4xx"]}, "retryOn"),
        ({"retryBackoffMs": 5000, "retryBackoffMaxMs": 1000}, "retryBackoffMaxMs"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field_and_writes_nothing(
    api_pair: tuple[Api, Api, Engine], body: dict[str, Any], field: str
) -> None:
    api, _, _ = api_pair
    job_id = api("POST", "/jobs", {"name": "j"}).json()["id"]
    response = api("POST", f"/jobs/{job_id}/endpoints", {**ENDPOINT, **body})
    assert response.status_code == 422, response.text
    assert any(d["field"] == field for d in response.json()["details"]), response.json()
    assert api("GET", f"/jobs/{job_id}/endpoints").json()["endpoints"] == []


def test_malformed_bodies_and_parameters_are_4xx_never_5xx(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    job_id, ep = make(api)
    assert api.http.post("/api/jobs", content=b"{not json", headers={"x-api-key": api.key}).status_code == 422
    assert api("POST", "/jobs", ["a", "list"]).status_code == 422
    assert api("GET", f"/endpoints/{ep['id']}/runs", params={"limit": 5000}).status_code == 422
    assert api("GET", f"/endpoints/{ep['id']}/runs", params={"status": "exploded"}).status_code == 422
    assert api("POST", f"/endpoints/{ep['id']}/hints/interval", {"intervalMs": -5}).status_code == 422
    assert api("POST", f"/endpoints/{ep['id']}/pause", {"pausedUntil": "2001-01-01T00:00:00Z"}).status_code == 422
    assert api("POST", f"/endpoints/{ep['id']}/hints/oneshot", {}).status_code == 422


def test_another_tenants_objects_answer_404(api_pair: tuple[Api, Api, Engine]) -> None:
    api, other, engine = api_pair
    job_id, ep = make(api)
    with engine.begin() as conn:
        conn.execute(
            runs.insert().values(
                id="run-1",
                endpoint_id=ep["id"],
                job_id=job_id,
                status="success",
                scheduled_at=NOW,
                attempt=1,
                fence=1,
                started_at=NOW,
            )
        )
    from cronicorn.store.analysis_sessions import SessionRecord, save_session

    session = SessionRecord(endpoint_id=ep["id"], analyzed_at=NOW, status="success", mode="active", model="m")
    save_session(engine, session)
    assert api("GET", f"/sessions/{session.id}").status_code == 200
    for method, path in [
        ("GET", f"/jobs/{job_id}"),
        ("PATCH", f"/jobs/{job_id}"),
        ("DELETE", f"/jobs/{job_id}"),
        ("POST", f"/jobs/{job_id}/pause"),
        ("GET", f"/jobs/{job_id}/endpoints"),
        ("POST", f"/jobs/{job_id}/endpoints"),
        ("GET", f"/jobs/{job_id}/endpoints/{ep['id']}"),
        ("POST", f"/endpoints/{ep['id']}/hints/interval"),
        ("DELETE", f"/endpoints/{ep['id']}/hints"),
        ("POST", f"/endpoints/{ep['id']}/reset-failures"),
        ("GET", f"/endpoints/{ep['id']}/runs"),
        ("GET", "/runs/run-1"),
        ("GET", f"/endpoints/{ep['id']}/health"),
        ("GET", f"/endpoints/{ep['id']}/sessions"),
        ("POST", f"/endpoints/{ep['id']}/run-now"),
        ("GET", f"/sessions/{session.id}"),
        ("GET", f"/endpoints/{ep['id']}"),
        ("GET", f"/endpoints/{ep['id']}/explain"),
        ("POST", f"/endpoints/{ep['id']}/test"),
        ("POST", f"/endpoints/{ep['id']}/pause"),
    ]:
        payload = (
            {"name": "x"}
            if method == "PATCH"
            else {**ENDPOINT}
            if path.endswith("/endpoints") and method == "POST"
            else {"intervalMs": 1000}
            if "interval" in path
            else {"pausedUntil": None}
            if path.endswith("/pause") and "/endpoints/" in path
            else None
        )
        response = other(method, path, payload)
        assert response.status_code == 404, (method, path, response.status_code, response.text)
    assert other("GET", "/jobs").json()["jobs"] == []
    assert api("GET", f"/jobs/{job_id}").json()["status"] == "active"  # nothing changed


def test_runs_are_paginated_and_filtered(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, engine = api_pair
    job_id, ep = make(api)
    with engine.begin() as conn:
        for i in range(5):
            conn.execute(
                runs.insert().values(
                    id=f"r{i}",
                    endpoint_id=ep["id"],
                    job_id=job_id,
                    status="failed" if i % 2 else "success",
                    scheduled_at=NOW + timedelta(minutes=i),
                    attempt=1,
                    fence=i + 1,
                    started_at=NOW + timedelta(minutes=i),
                    status_code=200,
                    response_body={"i": i},
                )
            )
    page = api("GET", f"/endpoints/{ep['id']}/runs", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 5 and [r["id"] for r in page["runs"]] == ["r3", "r2"]
    assert page["runs"][0]["responseBody"] == {"i": 3} and page["runs"][0]["statusCode"] == 200
    assert api("GET", f"/endpoints/{ep['id']}/runs", params={"status": "failed"}).json()["total"] == 2
    assert api("GET", "/runs/r4").json()["scheduledAt"] == z(NOW + timedelta(minutes=4))
    health = api("GET", f"/endpoints/{ep['id']}/health").json()
    assert health["failureCount"] == 0 and health["lastDay"]["runs"] == 5 and health["lastDay"]["successRate"] == 0.6
    stats = api("GET", "/dashboard/stats").json()
    assert stats["endpoints"] == 1 and stats["jobs"] == {"active": 1}


def test_health_reports_database_redis_and_tick_freshness(
    api_pair: tuple[Api, Api, Engine], redis_conn: redis.Redis
) -> None:
    api, _, _ = api_pair
    stale = api.http.get("/api/health")
    assert stale.status_code == 503 and stale.json()["checks"]["tick"] == "stale"
    redis_conn.set(last_tick(), (NOW - timedelta(seconds=2)).isoformat())
    fresh = api.http.get("/api/health")
    checks = fresh.json()["checks"]
    assert fresh.status_code == 200 and {k: checks[k] for k in ("database", "redis", "tick", "tickAgeSeconds")} == {
        "database": "ok",
        "redis": "ok",
        "tick": "ok",
        "tickAgeSeconds": 2.0,
    }
    assert checks["queueDepths"] == {"scheduler": 0, "execute": 0, "analysis": 0}


def test_the_openapi_document_and_docs_page_are_served(api_pair: tuple[Api, Api, Engine]) -> None:
    api, _, _ = api_pair
    spec = api.http.get("/api/openapi.json").json()
    assert (
        "/api/jobs/{job_id}/endpoints" in spec["paths"]
        and "/api/endpoints/{endpoint_id}/hints/interval" in spec["paths"]
    )
    assert api.http.get("/api/docs").status_code == 200
