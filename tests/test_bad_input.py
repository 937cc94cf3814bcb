"""Bad input at every edge gets a 4xx naming the field and changes nothing (DESIGN promise 7), on both stores.

The cases are derived, not listed: every string a write route's body schema (or a spec model) declares,
every path parameter of every route and every string query parameter, so a field or route added later
is covered without anyone remembering to add it here.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import redis
from pydantic import BaseModel
from sqlalchemy import Engine, text
from sqlalchemy import exc as sa

from cronicorn.api.errors import database_answer
from cronicorn.core.casing import to_camel
from cronicorn.core.durations import parse_duration
from cronicorn.core.errors import InvalidInput
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.producer.hints import IntervalHint, OneShotHint, Pause
from cronicorn.producer.input_caps import InputCaps
from cronicorn.producer.specs import EndpointPatch, EndpointSpec, JobPatch, JobSpec
from cronicorn.shell.cli import main
from cronicorn.store.engine import make_engine
from tests.api_client import NOW, Api, serve_api, z
from tests.clients import snapshot

NUL = "a\x00b"
LATER = z(NOW + timedelta(hours=1))
OVERFLOW = "9999-12-31T23:59:59-01:00"  # a valid ISO time whose UTC is past year 9999
VALID_JOB = {"name": "billing", "description": "invoices"}
VALID_ENDPOINT = {
    "name": "sync",
    "description": "poll faster when the queue grows",
    "url": "https://api.example.com/sync",
    "method": "POST",
    "headers": {"X-Team": "billing"},
    "body": {"full": True},
    "baseline_cron": "*/5 * * * *",
    "timezone": "Europe/Paris",
    "upstream_endpoint_ids": [],
}
REST_ENDPOINT = {to_camel(k): v for k, v in VALID_ENDPOINT.items()}


@pytest.fixture
def api(engine: Engine, redis_conn: redis.Redis) -> Iterator[tuple[Api, Engine, str, str]]:
    # Every string of every write route is tried: more writes than the default per-minute limit allows.
    with serve_api(engine, redis_conn, {"acme": "enterprise"}, {"CRONICORN_API_WRITES_PER_MIN": "10000"}) as [acme]:
        yield _made(acme, engine)


def _made(acme: Api, engine: Engine) -> tuple[Api, Engine, str, str]:
    job_id = acme("POST", "/jobs", VALID_JOB).json()["id"]
    endpoint_id = acme("POST", f"/jobs/{job_id}/endpoints", REST_ENDPOINT).json()["id"]
    acme("POST", f"/jobs/{job_id}/endpoints", {**REST_ENDPOINT, "name": "upstream"})  # for a dependency
    return acme, engine, job_id, endpoint_id


def _upstream(api: Api, job_id: str) -> str:
    return str(
        next(e["id"] for e in api("GET", f"/jobs/{job_id}/endpoints").json()["endpoints"] if e["name"] == "upstream")
    )


def nul_variants(prop: dict[str, Any]) -> list[Any]:
    """Values of a property (per its JSON schema) that hold a NUL in each place it can hold text."""
    variants: list[Any] = []
    for option in prop.get("anyOf", [prop]):
        kind = option.get("type")
        if kind == "string":
            variants.append(NUL)
        elif kind == "array" and option.get("items", {}).get("type") == "string":
            variants.append(["ok", NUL])
        elif kind == "object" and option.get("additionalProperties", {}).get("type") == "string":
            variants += [{"X-Ok": "1", "X" + NUL: "1"}, {"X-Ok": NUL}]
        elif kind is None and "$ref" not in option:  # any JSON: text and keys at depth
            variants += [{"a": [{"b": NUL}]}, {"a": {"b" + NUL: 1}}]
    return variants


def named(details: list[dict[str, str]], field: str) -> bool:
    return any(d["field"].split(".")[0].split("[")[0] == field for d in details)


def write_bodies(job_id: str, endpoint_id: str, upstream_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for every write route that takes one (a route missing here fails the test below)."""
    return {
        ("post", "/api/jobs"): VALID_JOB,
        ("patch", "/api/jobs/{job_id}"): VALID_JOB,
        ("post", "/api/jobs/{job_id}/endpoints"): {**REST_ENDPOINT, "name": "another"},
        ("patch", "/api/jobs/{job_id}/endpoints/{endpoint_id}"): REST_ENDPOINT,
        ("post", "/api/endpoints/{endpoint_id}/hints/interval"): {"intervalMs": 60_000, "reason": "r"},
        ("post", "/api/endpoints/{endpoint_id}/hints/oneshot"): {"nextRunAt": LATER, "reason": "r"},
        ("post", "/api/endpoints/{endpoint_id}/pause"): {"pausedUntil": LATER, "reason": "r"},
        ("post", "/api/endpoints/{endpoint_id}/backfill"): {"since": z(NOW - timedelta(hours=1)), "until": z(NOW)},
        ("post", "/api/signing-keys"): {"graceMinutes": 5},
        ("post", "/api/notification-channels"): {"kind": "webhook", "target": "https://hooks.example.com/x"},
        ("put", "/api/jobs/{job_id}/auto-pause"): {"afterFailures": 5},
        ("put", "/api/endpoints/{endpoint_id}/auto-pause"): {"afterFailures": 5},
        ("post", "/api/register"): {"job": VALID_JOB, "endpoints": [{**REST_ENDPOINT, "name": "registered"}]},
        ("put", "/api/endpoints/{endpoint_id}/dependency"): {"upstreamEndpointIds": [upstream_id]},
    }


def _schema(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    for option in ref.get("anyOf", [ref]):
        if "$ref" in option:
            found: dict[str, Any] = doc["components"]["schemas"][option["$ref"].rsplit("/", 1)[-1]]
            return found
    return ref


def _operations(api: Api) -> Iterator[tuple[str, str, dict[str, Any]]]:
    doc = api.http.get("/api/openapi.json").json()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            yield method, path, {**op, "_doc": doc}


def _fill(path: str, ids: dict[str, str]) -> str:
    return path.removeprefix("/api").format(**ids)


def test_a_nul_in_any_string_of_any_write_route_is_a_422_naming_it_and_writes_nothing(
    api: tuple[Api, Engine, str, str],
) -> None:
    acme, engine, job_id, endpoint_id = api
    bodies = write_bodies(job_id, endpoint_id, _upstream(acme, job_id))
    ids = {"job_id": job_id, "endpoint_id": endpoint_id}
    failures, tried = [], 0
    for method, path, op in _operations(acme):
        if "requestBody" not in op:
            continue
        assert (method, path) in bodies, f"{method} {path} takes a body: add a valid one to write_bodies"
        schema = _schema(op["_doc"], op["requestBody"]["content"]["application/json"]["schema"])
        for prop, prop_schema in schema.get("properties", {}).items():
            for value in nul_variants(prop_schema):
                tried += 1
                before = snapshot(engine)
                answer = acme(method.upper(), _fill(path, ids), {**bodies[(method, path)], prop: value})
                ok = answer.status_code == 422 and named(answer.json()["details"], prop)
                if not ok or snapshot(engine) != before:
                    failures.append(f"{method} {path} {prop}={value!r}: {answer.status_code} {answer.text[:200]}")
    assert tried >= 25 and not failures, "\n".join(failures)
    # The bodies themselves are valid: each 422 above was the NUL's doing.
    for (method, path), body in bodies.items():
        assert acme(method.upper(), _fill(path, ids), body).status_code < 300, (method, path)


def test_an_id_or_query_parameter_with_a_nul_is_a_422_naming_it_on_every_route(
    api: tuple[Api, Engine, str, str],
) -> None:
    acme, engine, job_id, endpoint_id = api
    real = {"job_id": job_id, "endpoint_id": endpoint_id, "run_id": "r", "session_id": "s"}
    bodies = write_bodies(job_id, endpoint_id, _upstream(acme, job_id))
    before = snapshot(engine)
    failures, tried = [], 0
    for method, path, op in _operations(acme):
        body = bodies.get((method, path))
        for param in op.get("parameters", []):
            if param["in"] == "path":
                where, query = _fill(path, {**real, param["name"]: "%00"}), {}
            elif param["in"] == "query" and "string" in json.dumps(param["schema"]):
                where, query = _fill(path, real), {param["name"]: NUL}
            else:
                continue
            tried += 1
            answer = acme(method.upper(), where, body, params=query)
            field = param["name"] if param["in"] == "query" else to_camel(param["name"])
            if answer.status_code != 422 or not named(answer.json()["details"], field):
                failures.append(f"{method} {path} {param['name']}: {answer.status_code} {answer.text[:200]}")
    assert tried >= 30 and not failures, "\n".join(failures)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "raw",
    [
        b'{"name": "a\\ud800b"}',  # an unpaired surrogate, as JSON may escape it
        b'{"name": "ok", "\\ud800": 1}',  # in an unknown field's name, echoed back in the error
        b'{"name": "a\\u0000b"}',
    ],
)
def test_text_no_store_can_hold_is_refused_however_it_is_escaped(api: tuple[Api, Engine, str, str], raw: bytes) -> None:
    acme, engine, job_id, _ = api
    before = snapshot(engine)
    for where in ("/api/jobs", f"/api/jobs/{job_id}/endpoints"):
        answer = acme.http.post(where, content=raw, headers={"x-api-key": acme.key})
        assert answer.status_code == 422 and answer.json()["details"], answer.text
    body = b'{"name": "e", "url": "https://x.example/", "method": "POST", "baselineIntervalMs": 60000, "bodyJson": '
    for json_body in (b'{"k\\ud800": 1}', b'["\\udfff"]', b"[NaN]", b"[1e999]", b"[" * 100 + b"]" * 100):
        answer = acme.http.post(
            f"/api/jobs/{job_id}/endpoints", content=body + json_body + b"}", headers={"x-api-key": acme.key}
        )
        assert answer.status_code == 422 and named(answer.json()["details"], "bodyJson"), answer.text
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "url, reason",
    [
        ("https://api.example.com:99999/x", "port"),
        ("https://api.example.com:0/x", "port"),
        ("https://api.example.com:http/x", "port"),
        ("https://[::1/x", "valid URL"),
        ("https://[fe80::zz]/x", "IPv6"),
        ("https://a..example.com/x", "domain"),
        ("https://" + "a" * 64 + ".example.com/x", "domain"),
        ("https://api.exa$mple.com/x", "host"),
        ("https://api.example.com/x\x00", "NUL"),
        ("https://api.example.com/\x7fx", "control"),
        ("file:///etc/passwd", "http"),
    ],
)
def test_a_url_that_cannot_be_called_is_refused_at_creation_and_update(
    api: tuple[Api, Engine, str, str], client: Cronicorn, url: str, reason: str
) -> None:
    acme, engine, job_id, endpoint_id = api
    before = snapshot(engine)
    created = acme("POST", f"/jobs/{job_id}/endpoints", {**REST_ENDPOINT, "name": "x", "url": url})
    updated = acme("PATCH", f"/jobs/{job_id}/endpoints/{endpoint_id}", {"url": url})
    for answer in (created, updated):
        assert answer.status_code == 422 and named(answer.json()["details"], "url"), answer.text
        assert reason in answer.json()["error"]
    with pytest.raises(InvalidInput) as refused:
        client.add_endpoint(client.create_job(name="j").id, {**VALID_ENDPOINT, "url": url})
    assert refused.value.errors[0].field == "url" and reason in refused.value.errors[0].reason
    assert snapshot(engine)["endpoints"] == before["endpoints"]


@pytest.mark.parametrize(
    "route, body, field",
    [
        ("/endpoints/{e}/pause", {"pausedUntil": OVERFLOW}, "pausedUntil"),
        ("/endpoints/{e}/pause", {"pausedUntil": "0001-01-01T00:00:00+01:00"}, "pausedUntil"),
        ("/endpoints/{e}/pause", {"pausedUntil": "9000-01-01T00:00:00Z"}, "pausedUntil"),
        ("/endpoints/{e}/hints/oneshot", {"nextRunAt": OVERFLOW}, "nextRunAt"),
    ],
)
def test_a_time_past_the_calendar_is_a_422_naming_it(
    api: tuple[Api, Engine, str, str], route: str, body: dict[str, Any], field: str
) -> None:
    acme, engine, _, endpoint_id = api
    before = snapshot(engine)
    answer = acme("POST", route.format(e=endpoint_id), body)
    assert answer.status_code == 422 and named(answer.json()["details"], field), answer.text
    assert snapshot(engine) == before
    for name in ("since", "until"):
        answer = acme("GET", "/runs", params={name: OVERFLOW})
        assert answer.status_code == 422 and named(answer.json()["details"], name), answer.text


def test_a_far_but_valid_pause_is_kept_and_explained_without_overflow(api: tuple[Api, Engine, str, str]) -> None:
    acme, _, _, endpoint_id = api
    assert (
        acme("POST", f"/endpoints/{endpoint_id}/pause", {"pausedUntil": "8999-12-31T22:00:00-01:00"}).status_code == 200
    )
    assert acme("GET", f"/endpoints/{endpoint_id}/explain", params={"n": 100}).status_code == 200


# --- size caps ---------------------------------------------------------------------------------
def test_a_request_body_over_the_cap_is_a_413_naming_the_limit_whether_declared_or_streamed(
    api: tuple[Api, Engine, str, str],
) -> None:
    acme, engine, job_id, _ = api
    before = snapshot(engine)
    where, key = f"/api/jobs/{job_id}/endpoints", {"x-api-key": acme.key}
    declared = acme.http.post(where, content=b"x" * 20_000_000, headers=key)
    streamed = acme.http.post(where, content=iter([b"[" + b"1," * 100_000] * 10), headers=key)
    huge_body = acme("POST", f"/jobs/{job_id}/endpoints", {**REST_ENDPOINT, "bodyJson": "x" * 10_000_000})
    for answer in (declared, streamed, huge_body):
        assert answer.status_code == 413, answer.text
        assert "1048576 bytes (CRONICORN_API_MAX_REQUEST_BYTES)" in answer.json()["error"]
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"bodyJson": "x" * 70_000}, "CRONICORN_MAX_BODY_BYTES"),
        ({"headersJson": {f"X-{i}": "v" for i in range(5000)}}, "CRONICORN_MAX_HEADERS"),
        ({"headersJson": {"X-A": "v" * 8193}}, "CRONICORN_MAX_HEADER_VALUE_CHARS"),
        ({"headersJson": {"X-" + "a" * 300: "v"}}, "CRONICORN_MAX_HEADER_NAME_CHARS"),
        ({"headersJson": {"X-A": "caf\u20ac"}}, "Latin-1"),
        ({"headersJson": {"X-A": "a\r\nInjected: 1"}}, "line breaks"),
        ({"headersJson": {"X A": "1"}}, "header name"),
        ({"headersJson": {"X-A": "1", "x-a": "2"}}, "same header"),
    ],
)
def test_oversized_or_unsendable_bodies_and_headers_are_422s_naming_field_and_cap(
    api: tuple[Api, Engine, str, str], fields: dict[str, Any], reason: str
) -> None:
    acme, engine, job_id, endpoint_id = api
    before = snapshot(engine)
    created = acme("POST", f"/jobs/{job_id}/endpoints", {**REST_ENDPOINT, "name": "x", **fields})
    updated = acme("PATCH", f"/jobs/{job_id}/endpoints/{endpoint_id}", fields)
    field = next(iter(fields))
    for answer in (created, updated):
        assert answer.status_code == 422 and named(answer.json()["details"], field), answer.text
        assert reason in answer.json()["error"]
    assert snapshot(engine) == before


def test_the_caps_are_settings_and_every_edge_applies_the_configured_ones(
    engine: Engine, redis_conn: redis.Redis
) -> None:
    env = {
        "CRONICORN_MAX_HEADERS": "2",
        "CRONICORN_MAX_HEADER_VALUE_CHARS": "10",
        "CRONICORN_MAX_BODY_BYTES": "100",
        "CRONICORN_API_MAX_REQUEST_BYTES": "4096",
    }
    caps = InputCaps.of(Settings.from_env(env))
    local = Cronicorn(engine, tenant_id="local", caps=caps)
    job = local.create_job(name="j")
    within = {**VALID_ENDPOINT, "headers": {"A": "x" * 10, "B": "1"}, "body": "x" * 98}
    assert local.add_endpoint(job.id, within).body == "x" * 98
    for over in ({"headers": {"A": "1", "B": "2", "C": "3"}}, {"headers": {"A": "x" * 11}}, {"body": "x" * 99}):
        with pytest.raises(InvalidInput, match="CRONICORN_MAX"):
            local.add_endpoint(job.id, {**within, "name": "other", **over})
        with pytest.raises(InvalidInput, match="CRONICORN_MAX"):
            local.register({"name": "j"}, [{**within, **over}])
    with serve_api(engine, redis_conn, {"acme": "enterprise"}, env) as (acme,):
        job_id = acme("POST", "/jobs", VALID_JOB).json()["id"]
        rest = {**REST_ENDPOINT, "headersJson": within["headers"], "bodyJson": within["body"]}
        assert acme("POST", f"/jobs/{job_id}/endpoints", rest).status_code == 201
        answer = acme("POST", f"/jobs/{job_id}/endpoints", {**rest, "name": "o", "bodyJson": "x" * 99})
        assert answer.status_code == 422 and "more than 100 (CRONICORN_MAX_BODY_BYTES)" in answer.text
        answer = acme("POST", f"/jobs/{job_id}/endpoints", {**rest, "name": "o", "bodyJson": "x" * 5000})
        assert answer.status_code == 413 and "4096 bytes" in answer.text
    assert InputCaps() == InputCaps.of(Settings.from_env({})), "the client's default caps are the settings' defaults"


def test_the_command_line_applies_the_configured_caps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CRONICORN_HOME", str(tmp_path))
    monkeypatch.delenv("CRONICORN_DATABASE_URL", raising=False)
    monkeypatch.setenv("CRONICORN_MAX_HEADERS", "1")
    assert main(["migrate"]) == 0
    capsys.readouterr()
    assert main(["jobs", "create", "j", "--json"]) == 0
    job_id = json.loads(capsys.readouterr().out)["id"]
    argv = ["endpoints", "add", job_id, "--name", "e", "--url", "https://x.example/", "--interval", "1m"]
    assert main([*argv, "--header", "A=1", "--header", "B=2"]) == 2
    assert "at most 1 headers (CRONICORN_MAX_HEADERS)" in capsys.readouterr().err


# --- the Python client -------------------------------------------------------------------------
Call = Callable[[Cronicorn, str, str, dict[str, Any]], Any]
SPEC_CALLS: list[tuple[type[BaseModel], str, Call]] = [
    (JobSpec, "", lambda c, j, e, f: c.create_job({**VALID_JOB, **f})),
    (JobPatch, "", lambda c, j, e, f: c.update_job(j, **f)),
    (EndpointSpec, "", lambda c, j, e, f: c.add_endpoint(j, {**VALID_ENDPOINT, "name": "n", **f})),
    (EndpointSpec, "endpoints[0].", lambda c, j, e, f: c.register(VALID_JOB, [{**VALID_ENDPOINT, **f}])),
    (EndpointPatch, "", lambda c, j, e, f: c.update_endpoint(e, **f)),
    (IntervalHint, "", lambda c, j, e, f: c.set_interval_hint(e, **{"interval_ms": 60_000, **f})),
    (OneShotHint, "", lambda c, j, e, f: c.set_oneshot_hint(e, **{"next_run_in_ms": 0, **f})),
    (
        Pause,
        "",
        lambda c, j, e, f: c.pause_endpoint(e, f.get("paused_until", NOW + timedelta(hours=1)), f.get("reason")),
    ),
]


@pytest.mark.parametrize(
    "model, prefix, call", SPEC_CALLS, ids=[f"{m.__name__}{p and '-register'}" for m, p, _ in SPEC_CALLS]
)
def test_the_python_client_refuses_a_nul_in_any_string_of_any_spec_naming_it(
    client: Cronicorn, engine: Engine, model: type[BaseModel], prefix: str, call: Call
) -> None:
    job = client.create_job(VALID_JOB)
    ep = client.add_endpoint(job.id, VALID_ENDPOINT)
    tried = 0
    for name, prop in model.model_json_schema()["properties"].items():
        for value in nul_variants(prop):
            tried += 1
            before = snapshot(engine)
            with pytest.raises(InvalidInput) as refused:
                call(client, job.id, ep.id, {name: value})
            fields = [e.field.removeprefix(prefix).split(".")[0].split("[")[0] for e in refused.value.errors]
            assert name in fields, (name, value, refused.value)
            assert snapshot(engine) == before
    assert tried >= 1


# What each client method needs besides its ids; a new method with another required argument fails here.
EXTRA_ARGS: dict[str, dict[str, Any]] = {
    "add_endpoint": {"spec": VALID_ENDPOINT},
    "update_job": {"name": "x"},
    "update_endpoint": {"name": "x"},
    "pause_endpoint": {"until": NOW + timedelta(hours=1)},
    "set_interval_hint": {"interval_ms": 60_000},
    "set_oneshot_hint": {"next_run_in_ms": 0},
    "backfill": {"since": NOW - timedelta(hours=1), "until": NOW},
    "test_call": {"http": None, "keyring": None},
    "add_notification_channel": {"kind": "webhook", "target": "https://hooks.example.com/x"},
    "set_auto_pause": {"after_failures": 3},
    "set_dependency": {"upstream_endpoint_ids": ["some-upstream"]},
}


def test_the_python_client_refuses_an_id_with_a_nul_in_every_method_naming_it(
    client: Cronicorn, engine: Engine
) -> None:
    job = client.create_job(VALID_JOB)
    ep = client.add_endpoint(job.id, VALID_ENDPOINT)
    real = {"job_id": job.id, "endpoint_id": ep.id, "run_id": "r", "session_id": "s", "channel_id": "c"}
    before = snapshot(engine)
    tried = 0
    for method_name, method in inspect.getmembers(client, inspect.ismethod):
        if method_name.startswith("_"):
            continue
        params = inspect.signature(method).parameters
        for target in (p for p in params if p.endswith("_id")):
            kwargs = {p: real[p] for p in params if p.endswith("_id") and params[p].default is inspect.Parameter.empty}
            kwargs |= {target: NUL, **EXTRA_ARGS.get(method_name, {})}
            missing = [
                p
                for p, v in params.items()
                if v.default is inspect.Parameter.empty and p not in kwargs and v.kind is v.POSITIONAL_OR_KEYWORD
            ]
            assert not missing, f"{method_name} needs {missing}: add them to EXTRA_ARGS"
            tried += 1
            with pytest.raises(InvalidInput) as refused:
                method(**kwargs)
            assert [e.field for e in refused.value.errors] == [target], (method_name, refused.value)
    assert tried >= 20
    assert snapshot(engine) == before
    with pytest.raises(InvalidInput, match="tenant_id"):
        Cronicorn(engine, tenant_id=NUL)


def test_the_python_client_refuses_times_past_the_calendar_naming_them(client: Cronicorn, engine: Engine) -> None:
    ep = client.add_endpoint(client.create_job(VALID_JOB).id, VALID_ENDPOINT)
    overflow = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-1)))
    early = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=1)))
    before = snapshot(engine)
    for call, field in (
        (lambda at: client.pause_endpoint(ep.id, at), "paused_until"),
        (lambda at: client.set_oneshot_hint(ep.id, next_run_at=at), "next_run_at"),
        (lambda at: client.list_runs(since=at), "since"),
        (lambda at: client.list_runs(until=at), "until"),
    ):
        for at in (overflow, early):
            with pytest.raises(InvalidInput) as refused:
                call(at)
            assert refused.value.errors[0].field == field and "between 1970-01-01 and 9000-01-01" in str(refused.value)
    assert snapshot(engine) == before


@pytest.mark.parametrize(
    "body, reason",
    [
        (float("nan"), "finite"),
        ({"a": [float("inf")]}, "finite"),
        ({1: "a"}, "keys must be text"),
        ({"at": NOW}, "not datetime"),
        ({"s": {1, 2}}, "not set"),
        (10**5000, "too long"),
        ("x" * 65_535, "CRONICORN_MAX_BODY_BYTES"),
    ],
    ids=["nan", "infinity", "int-key", "datetime", "set", "5000-digit-int", "oversize"],
)
def test_a_body_that_is_not_storable_json_is_refused_naming_body(client: Cronicorn, body: Any, reason: str) -> None:
    job = client.create_job(VALID_JOB)
    with pytest.raises(InvalidInput) as refused:
        client.add_endpoint(job.id, {**VALID_ENDPOINT, "body": body})
    assert refused.value.errors[0].field == "body" and reason in refused.value.errors[0].reason


def test_a_nested_or_cyclic_body_is_refused_not_a_recursion_error(client: Cronicorn) -> None:
    job = client.create_job(VALID_JOB)
    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    for body in (deep, cyclic):
        with pytest.raises(InvalidInput, match="nest deeper than 64"):
            client.add_endpoint(job.id, {**VALID_ENDPOINT, "body": body})


def test_a_duration_past_a_century_is_refused_before_it_overflows_a_time() -> None:
    assert parse_duration("36500d") == 36_500 * 86_400_000
    for text_ in ("99999999999d", "9" * 400 + "d"):
        with pytest.raises(ValueError, match="longer than a century"):
            parse_duration(text_)


# --- database errors: only a connection that failed is "unavailable" -------------------------------
def test_an_unreachable_database_is_a_503_and_a_refused_value_is_a_422(
    pg_engine: Engine, redis_conn: redis.Redis
) -> None:
    down = make_engine("postgresql+psycopg2://postgres@127.0.0.1:1/nowhere")
    with serve_api(pg_engine, redis_conn, {"acme": "free"}) as (acme,):
        acme.http.app.state.deps.engine = down  # type: ignore[attr-defined]
        answer = acme("GET", "/jobs")
        assert answer.status_code == 503 and answer.json()["error"] == "database unavailable: OperationalError"
    with pg_engine.connect() as conn, pytest.raises(sa.DataError) as refused:
        conn.execute(text("SELECT CAST('not a number' AS integer)"))
    answer = database_answer(refused.value)
    assert answer.status_code == 422 and b"cannot store" in answer.body
    bound = sa.StatementError("date value out of range", "SELECT 1", {}, OverflowError("date value out of range"))
    assert database_answer(bound).status_code == 422
    bug = sa.ProgrammingError("SELECT nope", {}, Exception("column nope does not exist"))
    assert database_answer(bug).status_code == 500 and b"database unavailable" not in database_answer(bug).body
