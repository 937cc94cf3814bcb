"""The dashboard over HTTP without a browser: sign-in and its cookie, CSRF, tenant scoping, and bad input
that gets a page naming the problem, never a 5xx. The browser tests (test_dashboard_browser.py) cover the
pages as a person uses them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cronicorn.producer.client import Cronicorn
from cronicorn.store.tenants import list_keys, revoke_key
from tests.api_client import NOW, Api, serve_api

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def site(engine: Engine, redis_conn: redis.Redis) -> Iterator[tuple[TestClient, Api, Api, Engine]]:
    with serve_api(engine, redis_conn, {"acme": "enterprise", "other": "enterprise"}) as (acme, other):
        acme.http.follow_redirects = False
        yield acme.http, acme, other, engine


def sign_in(http: TestClient, key: str, next_path: str = "/") -> str:
    """Sign in through the form; the session's CSRF token (from the overview page)."""
    form = http.get("/login")
    token = CSRF.search(form.text)
    assert token is not None
    answer = http.post("/login", data={"csrf": token.group(1), "api_key": key, "next": next_path})
    assert answer.status_code == 303, answer.text
    page = http.get("/")
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def endpoint_of(engine: Engine, tenant: str) -> str:
    client = Cronicorn(engine, tenant_id=tenant, clock=lambda: NOW)
    _, (ep,) = client.register(
        {"name": "jobs"}, [{"name": "ep", "url": "https://x.test/a", "baseline_interval_ms": 60000}]
    )
    return ep.id


def test_every_page_asks_to_sign_in_first_and_comes_back_after(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, _ = site
    for path in ("/", "/endpoints", "/endpoints/x", "/runs/x", "/sessions/x"):
        answer = http.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
    form = http.get("/login?next=/endpoints")
    token = CSRF.search(form.text)
    assert token is not None
    answer = http.post("/login", data={"csrf": token.group(1), "api_key": acme.key, "next": "/endpoints"})
    assert answer.headers["location"] == "/endpoints"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and acme.key not in cookie


@pytest.mark.parametrize("target", ["//evil.test/x", "https://evil.test", "/\\evil.test", "javascript:alert(1)"])
def test_sign_in_never_sends_the_browser_off_site(site: tuple[TestClient, Api, Api, Engine], target: str) -> None:
    http, acme, _, _ = site
    token = CSRF.search(http.get("/login").text)
    assert token is not None
    answer = http.post("/login", data={"csrf": token.group(1), "api_key": acme.key, "next": target})
    assert answer.headers["location"] == "/"


def test_a_sign_in_without_the_forms_token_or_with_a_bad_key_is_refused(
    site: tuple[TestClient, Api, Api, Engine],
) -> None:
    http, acme, _, _ = site
    assert http.post("/login", data={"csrf": "x", "api_key": acme.key}).status_code == 403
    token = CSRF.search(http.get("/login").text)
    assert token is not None
    refused = http.post("/login", data={"csrf": token.group(1), "api_key": "ck_wrong\x00"})
    assert refused.status_code == 401 and "unknown or revoked" in refused.text
    assert "cronicorn_session" not in http.cookies


def test_revoking_the_key_ends_its_sessions(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, engine = site
    sign_in(http, acme.key)
    assert http.get("/").status_code == 200
    (key,) = list_keys(engine, "acme")
    revoke_key(engine, NOW, key.id)
    assert http.get("/").status_code == 303


def test_signing_out_ends_the_session_on_the_server(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, _ = site
    csrf = sign_in(http, acme.key)
    cookie = http.cookies["cronicorn_session"]
    assert http.post("/logout", data={"csrf": csrf}).status_code == 303
    http.cookies.set("cronicorn_session", cookie)  # a copy of the old cookie is worth nothing
    assert http.get("/").status_code == 303


def test_another_tenants_objects_answer_404_pages_and_actions_change_nothing(
    site: tuple[TestClient, Api, Api, Engine],
) -> None:
    http, acme, _, engine = site
    theirs = endpoint_of(engine, "other")
    csrf = sign_in(http, acme.key)
    assert http.get(f"/endpoints/{theirs}").status_code == 404
    answer = http.post(f"/endpoints/{theirs}/actions/pause", data={"csrf": csrf, "minutes": "5"})
    assert answer.status_code == 404 and "text/html" in answer.headers["content-type"]
    assert Cronicorn(engine, tenant_id="other").get_endpoint(theirs).paused_until is None


def test_an_action_needs_the_sessions_csrf_token(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, engine = site
    mine = endpoint_of(engine, "acme")
    sign_in(http, acme.key)
    for token in ("", "forged"):
        assert http.post(f"/endpoints/{mine}/actions/pause", data={"csrf": token, "minutes": "5"}).status_code == 403
    assert Cronicorn(engine, tenant_id="acme").get_endpoint(mine).paused_until is None


def test_an_action_moves_the_next_run_and_says_so(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, engine = site
    mine = endpoint_of(engine, "acme")
    csrf = sign_in(http, acme.key)
    answer = http.post(f"/endpoints/{mine}/actions/pause", data={"csrf": csrf, "minutes": "30", "reason": "deploy"})
    assert answer.status_code == 303 and answer.headers["location"] == f"/endpoints/{mine}"
    ep = Cronicorn(engine, tenant_id="acme").get_endpoint(mine)
    assert ep.paused_until == NOW + timedelta(minutes=30) == ep.next_run_at
    assert ep.pause_reason == "deploy"
    page = http.get(answer.headers["location"])
    assert "Paused until" in page.text and "deploy" in page.text
    assert "Paused until" not in http.get(answer.headers["location"]).text, "a message is shown once"


@pytest.mark.parametrize(
    ("action", "fields", "says"),
    [
        ("pause", {"until": "not a time"}, "until"),
        ("pause", {"until": "2020-01-01T00:00"}, "until"),
        ("pause", {"minutes": "-3"}, "minutes"),
        ("pause", {"minutes": "1e400"}, "minutes"),
        ("interval-hint", {"interval_s": "abc"}, "interval_s"),
        ("interval-hint", {"interval_s": "10", "ttl_minutes": "nan"}, "ttl_minutes"),
        ("oneshot-hint", {}, "in_s"),
        ("resume", {}, ""),
    ],
)
def test_bad_action_input_comes_back_as_an_error_on_the_page_and_writes_nothing(
    site: tuple[TestClient, Api, Api, Engine], action: str, fields: dict[str, str], says: str
) -> None:
    http, acme, _, engine = site
    mine = endpoint_of(engine, "acme")
    before = Cronicorn(engine, tenant_id="acme").get_endpoint(mine)
    csrf = sign_in(http, acme.key)
    answer = http.post(f"/endpoints/{mine}/actions/{action}", data={"csrf": csrf, **fields})
    assert answer.status_code == 303
    if action != "resume":
        shown = http.get(answer.headers["location"]).text
        assert 'data-testid="error"' in shown and says in shown
    after = Cronicorn(engine, tenant_id="acme").get_endpoint(mine)
    assert (after.paused_until, after.ai_hint_interval_ms, after.next_run_at) == (
        before.paused_until,
        before.ai_hint_interval_ms,
        before.next_run_at,
    )


@pytest.mark.parametrize(
    "path",
    [
        "/endpoints?status=nope",
        "/endpoints?page=0",
        "/endpoints?page=abc",
        "/endpoints?q=%00",
        "/endpoints?q=" + "x" * 500,
        "/endpoints?q=%25_%5C",
        "/endpoints/%00",
        "/endpoints/" + "x" * 300,
        "/endpoints/x?offset=-1",
        "/endpoints/x?error=" + "y" * 400,
        "/runs/nope",
        "/sessions/nope",
        "/jobs/nope/dependencies",
        "/jobs/" + "x" * 300 + "/dependencies",
        "/nowhere",
    ],
)
def test_bad_page_input_gets_a_page_naming_it_never_a_5xx(site: tuple[TestClient, Api, Api, Engine], path: str) -> None:
    http, acme, _, _ = site
    sign_in(http, acme.key)
    answer = http.get(path)
    assert 400 <= answer.status_code < 500 or answer.status_code == 200, answer.text
    assert "text/html" in answer.headers["content-type"]


def test_the_rest_api_still_answers_json_errors(site: tuple[TestClient, Api, Api, Engine]) -> None:
    _, acme, _, _ = site
    answer = acme("GET", "/endpoints/nope")
    assert answer.status_code == 404 and answer.json()["error"]


def test_the_api_docs_load_their_assets_from_this_server(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, _, _, _ = site
    page = http.get("/api/docs").text
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page) + re.findall(r"url: '([^']+)'", page)
    assert assets and all(a.startswith("/") for a in assets), assets
    for asset in assets:
        assert http.get(asset).status_code == 200, asset


def test_the_endpoint_page_shows_its_dependency_and_its_upstreams(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, engine = site
    client = Cronicorn(engine, tenant_id="acme", clock=lambda: NOW)
    _, (up, down) = client.register(
        {"name": "pipeline"},
        [
            {"name": "extract", "url": "https://x.test/e", "baseline_interval_ms": 60000},
            {"name": "load", "url": "https://x.test/l", "baseline_interval_ms": 3_600_000},
        ],
    )
    client.set_dependency(down.id, upstream_endpoint_ids=[up.id], condition="status < 300")
    sign_in(http, acme.key)
    page = http.get(f"/endpoints/{down.id}")
    assert page.status_code == 200
    assert 'data-testid="dependency"' in page.text and f"/endpoints/{up.id}" in page.text
    assert "status &lt; 300" in page.text


def test_a_link_cannot_make_the_page_say_anything(site: tuple[TestClient, Api, Api, Engine]) -> None:
    http, acme, _, engine = site
    mine = endpoint_of(engine, "acme")
    sign_in(http, acme.key)
    page = http.get(f"/endpoints/{mine}?error=Your+key+leaked:+call+555&done=Paused")
    assert page.status_code == 200 and "555" not in page.text and 'data-testid="done"' not in page.text


def test_the_dependency_graph_lists_the_tenants_edges_and_another_tenants_job_answers_404(
    site: tuple[TestClient, Api, Api, Engine],
) -> None:
    http, acme, _, engine = site
    mine = Cronicorn(engine, tenant_id="acme", clock=lambda: NOW)
    job, (up, down) = mine.register(
        {"name": "pipeline"},
        [
            {"name": "extract", "url": "https://x.test/e", "baseline_interval_ms": 60000},
            {"name": "load", "url": "https://x.test/l", "baseline_interval_ms": 3_600_000},
        ],
    )
    mine.set_dependency(down.id, upstream_endpoint_ids=[up.id], condition="status < 300", gate=True)
    theirs = Cronicorn(engine, tenant_id="other", clock=lambda: NOW)
    their_job, (a, b) = theirs.register(
        {"name": "secret-pipeline"},
        [
            {"name": "a", "url": "https://x.test/a", "baseline_interval_ms": 60000},
            {"name": "b", "url": "https://x.test/b", "baseline_interval_ms": 60000},
        ],
    )
    theirs.set_dependency(b.id, upstream_endpoint_ids=[a.id])
    sign_in(http, acme.key)
    for path in ("/dependencies", f"/jobs/{job.id}/dependencies"):
        page = http.get(path)
        assert page.status_code == 200
        rows = re.findall(r'<tr data-from="([^"]+)" data-to="([^"]+)" data-result="([^"]+)"', page.text)
        assert rows == [(up.id, down.id, "not-evaluated")]
        assert "trigger + gate" in page.text and "status &lt; 300" in page.text
        assert "secret-pipeline" not in page.text and a.id not in page.text
    answer = http.get(f"/jobs/{their_job.id}/dependencies")
    assert answer.status_code == 404 and "secret-pipeline" not in answer.text
