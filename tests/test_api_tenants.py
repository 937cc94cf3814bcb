"""The REST API's tenant edges: tiers, rate limits, test calls and signing keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.errors import InvalidInput, NotFound
from cronicorn.core.settings import Settings
from cronicorn.core.tiers import parse_tiers
from cronicorn.store.tenants import create_key, create_tenant, list_tenants, set_tenant_tier
from tests.api_client import NOW, Api, z


def test_a_tenants_tier_limits_endpoints_and_intervals(engine: Engine, redis_conn: redis.Redis) -> None:
    create_tenant(engine, NOW, "small", tier="free")
    _, key = create_key(engine, NOW, "small", "k")
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: NOW))
    with TestClient(app) as http:
        api = Api(http, key)
        job = api("POST", "/jobs", {"name": "j"}).json()["id"]
        fast = api(
            "POST", f"/jobs/{job}/endpoints", {"name": "f", "url": "https://x.example/", "baselineIntervalMs": 10_000}
        )
        assert fast.status_code == 422 and fast.json()["details"][0]["field"] == "baselineIntervalMs"
        cron = api(
            "POST", f"/jobs/{job}/endpoints", {"name": "c", "url": "https://x.example/", "baselineCron": "* * * * *"}
        )
        assert (
            cron.status_code == 201 and cron.json()["minIntervalMs"] == 60_000
        )  # the tier's floor, so hints cannot go faster
        every_second = api("PATCH", f"/jobs/{job}/endpoints/{cron.json()['id']}", {"minIntervalMs": 1000})
        assert every_second.status_code == 422 and every_second.json()["details"][0]["field"] == "minIntervalMs"
        for i in range(4):
            assert (
                api(
                    "POST",
                    f"/jobs/{job}/endpoints",
                    {"name": f"e{i}", "url": "https://x.example/", "baselineIntervalMs": 60_000},
                ).status_code
                == 201
            )
        sixth = api(
            "POST", f"/jobs/{job}/endpoints", {"name": "e5", "url": "https://x.example/", "baselineIntervalMs": 60_000}
        )
        assert sixth.status_code == 409 and "5 endpoints" in sixth.json()["error"]


def test_rate_limits_per_key_answer_429_with_retry_after(engine: Engine, redis_conn: redis.Redis) -> None:
    create_tenant(engine, NOW, "busy", tier="enterprise")
    _, key = create_key(engine, NOW, "busy", "k")
    _, second_key = create_key(engine, NOW, "busy", "k2")
    settings = Settings.from_env({"CRONICORN_API_WRITES_PER_MIN": "3", "CRONICORN_API_READS_PER_MIN": "5"})
    # Two app instances share Redis, as two API replicas would.
    apps = [create_app(Deps(engine=engine, redis=redis_conn, settings=settings, clock=lambda: NOW)) for _ in range(2)]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        writes = [
            (a if i % 2 else b).post("/api/jobs", json={"name": f"j{i}"}, headers={"x-api-key": key}) for i in range(4)
        ]
        assert [w.status_code for w in writes] == [201, 201, 201, 429]
        assert writes[0].headers["X-RateLimit-Limit"] == "3" and writes[2].headers["X-RateLimit-Remaining"] == "0"
        assert 1 <= int(writes[3].headers["Retry-After"]) <= 60 and "rate limit" in writes[3].json()["error"]
        assert a.get("/api/jobs", headers={"x-api-key": key}).status_code == 200  # reads have their own budget
        assert a.post("/api/jobs", json={"name": "other key"}, headers={"x-api-key": second_key}).status_code == 201


def test_a_test_call_runs_once_now_without_touching_the_schedule(engine: Engine, redis_conn: redis.Redis) -> None:
    from tests.targets import TargetServer

    target = TargetServer()
    target.start()
    create_tenant(engine, NOW, "acme", tier="enterprise")
    _, key = create_key(engine, NOW, "acme", "k")
    settings = Settings.from_env({"CRONICORN_SSRF_ALLOW": "127.0.0.0/8"})
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=settings, clock=lambda: NOW))
    try:
        with TestClient(app) as http:
            api = Api(http, key)
            job = api("POST", "/jobs", {"name": "j"}).json()["id"]
            ep = api(
                "POST",
                f"/jobs/{job}/endpoints",
                {
                    "name": "e",
                    "url": target.url("/echo"),
                    "method": "POST",
                    "bodyJson": {"x": 1},
                    "baselineIntervalMs": 60_000,
                },
            ).json()
            result = api("POST", f"/endpoints/{ep['id']}/test")
            assert result.status_code == 200 and result.json()["ok"] and result.json()["bodyJson"]["body"] == {"x": 1}
            assert [s.path for s in target.seen] == ["/echo"] and "X-Cronicorn-Signature" in target.seen[0].headers
            after = api("GET", f"/jobs/{job}/endpoints/{ep['id']}").json()
            assert after["nextRunAt"] == ep["nextRunAt"] and after["lastRunAt"] is None
            assert api("GET", f"/endpoints/{ep['id']}/runs").json()["total"] == 0
    finally:
        target.stop()


def test_signing_keys_rotate_over_the_api_with_the_secret_shown_once(api_pair: tuple[Api, Api, Engine]) -> None:
    api, other, _ = api_pair
    [initial] = api("GET", "/signing-keys").json()["signingKeys"]  # created with the tenant
    first = api("POST", "/signing-keys", {"graceMinutes": 60})
    assert first.status_code == 201 and first.json()["secret"]
    second = api("POST", "/signing-keys", {"graceMinutes": 30}).json()
    listed = api("GET", "/signing-keys").json()["signingKeys"]
    by_id = {k["id"]: k for k in listed}
    assert set(by_id) == {second["id"], first.json()["id"], initial["id"]} and all("secret" not in k for k in listed)
    assert (
        by_id[first.json()["id"]]["retiresAt"] == z(NOW + timedelta(minutes=30))
        and by_id[second["id"]]["retiresAt"] is None
    )
    [others] = other("GET", "/signing-keys").json()["signingKeys"]
    assert others["id"] not in by_id  # each tenant sees only its own keys
    assert api("POST", "/signing-keys", {"graceMinutes": -1}).status_code == 422


def test_a_tenant_created_without_a_tier_is_not_limited_until_given_one(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    # Given a tenant of one's own installation, created as docs/rest.md does
    tenant = create_tenant(engine, NOW, "local")
    _, key = create_key(engine, NOW, "local", "k")
    assert tenant["tier"] == "unlimited"
    app = create_app(Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: NOW))
    with TestClient(app) as http:
        api = Api(http, key)
        job = api("POST", "/jobs", {"name": "j"}).json()["id"]
        # When it adds more endpoints than the free tier allows, each faster than a minute
        for i in range(7):
            spec = {"name": f"e{i}", "url": "https://x.example/", "baselineIntervalMs": 5_000, "minIntervalMs": 1_000}
            assert api("POST", f"/jobs/{job}/endpoints", spec).status_code == 201
        # Then nothing is refused; moved to the free tier, the next one is
        set_tenant_tier(engine, "local", "free")
        sixth = api(
            "POST", f"/jobs/{job}/endpoints", {"name": "e9", "url": "https://x.example/", "baselineIntervalMs": 60_000}
        )
        assert sixth.status_code == 409 and "5 endpoints" in sixth.json()["error"]


def test_an_unknown_tier_is_refused_naming_the_field_and_changes_nothing(engine: Engine) -> None:
    with pytest.raises(InvalidInput) as refused:
        create_tenant(engine, NOW, "acme", tier="gold")
    assert refused.value.errors[0].field == "tier" and "unlimited" in refused.value.errors[0].reason
    assert list_tenants(engine) == []
    create_tenant(engine, NOW, "acme", tier="pro")
    with pytest.raises(InvalidInput):
        set_tenant_tier(engine, "acme", "gold")
    with pytest.raises(NotFound):
        set_tenant_tier(engine, "nobody", "pro")
    assert [t["tier"] for t in list_tenants(engine)] == ["pro"]
    assert create_tenant(engine, NOW, "big", tier="platinum", tiers=parse_tiers(PLATINUM))["tier"] == "platinum"


PLATINUM = '{"platinum": {"endpoints": 9, "min_interval_ms": 1, "runs_per_month": 9, "ai_tokens_per_month": 9}}'
