"""Property-based runs: no 5xx and no schema violation, whatever the input (schemathesis over the OpenAPI
document), and no 5xx for the hostile values an attacker found, in any field or id (hypothesis, both stores)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import positive_data_acceptance
from sqlalchemy import Engine

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.store.tenants import create_key, create_tenant
from tests.api_client import Api, serve_api
from tests.services import REDIS_URL, redis_client

# Built at import: schemathesis reads the schema to generate one test per operation.
_engine = make_engine(f"sqlite:///{Path(tempfile.mkdtemp(prefix='cronicorn-props-')) / 'c.db'}")
upgrade(_engine)
_now = datetime.now(UTC)
create_tenant(_engine, _now, "acme", tier="enterprise")
_, KEY = create_key(_engine, _now, "acme", "props")
_client = Cronicorn(_engine, tenant_id="acme")
_client.add_endpoint(
    _client.create_job(name="seed").id, name="e", url="https://x.example/", baseline_interval_ms=60_000
)
_settings = Settings.from_env({"CRONICORN_API_READS_PER_MIN": "1000000", "CRONICORN_API_WRITES_PER_MIN": "1000000"})
_app = create_app(
    Deps(engine=_engine, redis=redis.Redis.from_url(REDIS_URL), settings=_settings, clock=lambda: datetime.now(UTC))
)
# /api/health answers 503 by design while no beat is ticking (as here): it reports, it does not fail.
schema = schemathesis.openapi.from_asgi("/api/openapi.json", _app).exclude(path="/api/health")


@pytest.fixture(autouse=True)
def _redis_is_there() -> None:
    redis_client()  # skipped locally (failed on CI) when Redis is not reachable


@schema.parametrize()
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_or_break_its_schema(case: schemathesis.Case) -> None:
    # Every default check but "schema-valid input is accepted": some rules cannot be written in
    # the schema (a cron that must fire, exactly one baseline, a URL's scheme, tier limits), so a
    # schema-valid body may still rightly get a 422 naming its field.
    response = case.call_and_validate(headers={"x-api-key": KEY}, excluded_checks=[positive_data_acceptance])
    assert response.status_code < 500, response.text  # not even a documented 503: the database is up


# Text the stores cannot hold, times past the calendar, unsendable URLs and headers, oversized values:
# the classes an attacker found, drawn into every field of every write route and into ids, on both stores.
HOSTILE = st.sampled_from(
    [
        "a\x00b",
        "\ud800",
        "x\udfffy",
        "\r\nX-Injected: 1",
        "9999-12-31T23:59:59-01:00",
        "0001-01-01T00:00:00+01:00",
        "https://x.example:99999/",
        "https://[::1/",
        "x" * 70_000,
        "",
    ]
)
VALUES = HOSTILE | st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12) | HOSTILE,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(HOSTILE | st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
ROUTES = [
    ("POST", "/jobs", {"name": "j"}),
    ("PATCH", "/jobs/{job}", {"name": "j", "description": "d"}),
    ("POST", "/jobs/{job}/endpoints", {"name": "e", "url": "https://x.example/", "baselineIntervalMs": 60_000}),
    ("PATCH", "/jobs/{job}/endpoints/{ep}", {"method": "POST", "headersJson": {"X-A": "1"}, "bodyJson": {"a": 1}}),
    ("POST", "/endpoints/{ep}/hints/interval", {"intervalMs": 60_000, "reason": "r"}),
    ("POST", "/endpoints/{ep}/hints/oneshot", {"nextRunInMs": 0, "reason": "r"}),
    ("POST", "/endpoints/{ep}/pause", {"pausedUntil": "2030-01-01T00:00:00Z", "reason": "r"}),
]


def _bytes(value: Any) -> bytes:
    # Written by hand: JSON may carry what httpx will not encode (NaN, escaped lone surrogates).
    return json.dumps(value, ensure_ascii=True).encode()


@pytest.fixture
def seeded(engine: Engine, redis_conn: redis.Redis) -> Iterator[tuple[Api, str, str]]:
    """The API on both stores, unthrottled, with a job and an endpoint to aim at."""
    unthrottled = {"CRONICORN_API_READS_PER_MIN": "1000000", "CRONICORN_API_WRITES_PER_MIN": "1000000"}
    with serve_api(engine, redis_conn, {"acme": "enterprise"}, unthrottled) as (acme,):
        job = acme("POST", "/jobs", {"name": "j"}).json()["id"]
        yield acme, job, acme("POST", f"/jobs/{job}/endpoints", ROUTES[2][2]).json()["id"]


@given(data=st.data())
@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_hostile_values_in_any_field_or_id_are_answered_4xx_in_json_never_5xx(
    seeded: tuple[Api, str, str], data: st.DataObject
) -> None:
    acme, job, ep = seeded
    method, path, body = data.draw(st.sampled_from(ROUTES))
    field = data.draw(st.sampled_from([*body, "unknownField"]))
    hostile_id = quote(data.draw(HOSTILE.filter(lambda t: len(t) < 100)).encode("utf-8", "surrogatepass"), safe="")
    ids = data.draw(
        st.sampled_from([{"job": job, "ep": ep}, {"job": hostile_id, "ep": ep}, {"job": job, "ep": hostile_id}])
    )
    answer = acme.http.request(
        method,
        "/api" + path.format(**ids),
        content=_bytes({**body, field: data.draw(VALUES)}),
        headers={"x-api-key": acme.key, "content-type": "application/json"},
    )
    assert answer.status_code < 500, answer.text
    assert answer.status_code < 300 or answer.json()["error"], answer.text
