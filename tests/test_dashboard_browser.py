"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against a live API, with runs
made by real Celery workers and beat against a local target. Every request the browser makes to anything
but the API is refused, so a page that needs the internet fails here. Screenshots go to pytest's temporary
directory, or to the directory `CRONICORN_SCREENSHOTS` names (`CRONICORN_SCREENSHOTS=docs/screenshots`
refreshes the ones the docs show).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.store.tables import runs
from cronicorn.store.tenants import create_key, create_tenant
from tests.cluster import Cluster, wait_for
from tests.live_api import LiveApi
from tests.services import POSTGRES_URL, REDIS_URL, redis_client, truncate_all, unavailable
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CRONICORN_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def finished_runs(engine: Engine, endpoint_id: str) -> list[Any]:
    with engine.connect() as conn:
        rows = conn.execute(select(runs).where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running"))
        return list(rows)


class World:
    """Two tenants, their endpoints and runs made by real workers, the live API and one browser."""

    def __init__(self, engine: Engine, api: LiveApi, keys: dict[str, str], ids: dict[str, str], shots: Path) -> None:
        self.engine, self.api, self.keys, self.ids, self.shots = engine, api, keys, ids, shots
        self.acme = Cronicorn(engine, tenant_id="acme")

    def url(self, path: str) -> str:
        return self.api.url + path


@pytest.fixture(scope="module")
def world(_pg_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if shutil.which(CHROMIUM) is None:
        unavailable(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    engine = _pg_engine
    chosen = os.environ.get("CRONICORN_SCREENSHOTS")
    shots = (ROOT / chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    truncate_all(engine)
    r = redis_client()
    r.flushdb()
    target = TargetServer().start()
    now = utcnow()
    keys = {}
    for tenant in ("acme", "other"):
        create_tenant(engine, now, tenant, tier="enterprise")
        keys[tenant] = create_key(engine, now, tenant, "dashboard")[1]
    acme = Cronicorn(engine, tenant_id="acme")
    _, (sync, report) = acme.register(
        {"name": "billing", "description": "Invoices and their health"},
        [
            {
                "name": "sync",
                "url": target.url("/ok?token=abc123"),
                "headers": {"Authorization": "Bearer s3cret-value"},
                "baseline_interval_ms": 1000,
                "max_runs": 4,
            },
            {"name": "report", "url": target.url("/status/500"), "baseline_interval_ms": 3_600_000},
        ],
    )
    # A pipeline across two jobs: ingest triggers publish; check waits for a failure that never comes.
    hourly = {"url": target.url("/echo"), "method": "POST", "baseline_interval_ms": 3_600_000}
    pipeline, (ingest,) = acme.register({"name": "pipeline"}, [{"name": "ingest", **hourly, "body": {"ok": True}}])
    _, (publish, check) = acme.register(
        {"name": "publishing"}, [{"name": "publish", **hourly}, {"name": "check", **hourly}]
    )
    acme.set_dependency(publish.id, upstream_endpoint_ids=[ingest.id], condition="$.body.ok == true")
    acme.set_dependency(check.id, upstream_endpoint_ids=[ingest.id], condition="$.body.ok == false", gate=True)
    other = Cronicorn(engine, tenant_id="other")
    ops, (secret, hidden) = other.register(
        {"name": "ops"},
        [
            {"name": "private", "url": target.url("/ok"), "baseline_interval_ms": 3_600_000},
            {"name": "hidden-downstream", "url": target.url("/ok"), "baseline_interval_ms": 3_600_000},
        ],
    )
    other.set_dependency(hidden.id, upstream_endpoint_ids=[secret.id])
    # An hourly endpoint's first run is an hour away: ask for one now, so each has a run to show.
    acme.run_now(report.id)
    acme.run_now(ingest.id)
    other.run_now(secret.id)
    cluster = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path_factory.mktemp("cluster"))
    settings = Settings.from_env({"CRONICORN_SSRF_ALLOW": "127.0.0.0/8,::1/128"})
    api = LiveApi(create_app(Deps(engine=engine, redis=r, settings=settings, clock=utcnow))).start()
    try:
        cluster.start_all()
        # publish runs because ingest's run triggered it (not on its hourly schedule)
        for endpoint_id, n in ((sync.id, 4), (report.id, 1), (secret.id, 1), (ingest.id, 1), (publish.id, 1)):
            wait_for(lambda e=endpoint_id, n=n: len(finished_runs(engine, e)) >= n, 60, f"{n} runs of {endpoint_id}")
        ids = {"sync": sync.id, "report": report.id, "other": secret.id, "other_job": ops.id}
        ids |= {"pipeline": pipeline.id, "ingest": ingest.id, "publish": publish.id, "check": check.id}
        ids["other_run"] = finished_runs(engine, secret.id)[0].id
        ids["ingest_run"] = finished_runs(engine, ingest.id)[0].id
        yield World(engine, api, keys, ids, shots)
    finally:
        api.stop()
        cluster.stop()
        target.stop()
        r.flushdb()
        r.close()


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Tab:
    """A browser page that records console errors and refuses every request off the API's origin."""

    def __init__(self, browser: Any, world: World) -> None:
        self.world = world
        self.context = browser.new_context(viewport={"width": 1440, "height": 1000})
        self.errors: list[str] = []
        self.expected_refusals = 0  # pages a test asks for knowing they answer 4xx (Chrome logs each)
        self.offsite: list[str] = []
        self.context.route("**/*", self._only_local)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("dialog", lambda d: d.accept())  # "are you sure?": yes

    def _only_local(self, route: Any) -> None:
        if route.request.url.startswith(self.world.api.url):
            route.continue_()
        else:
            self.offsite.append(route.request.url)
            route.abort()

    def goto(self, path: str) -> Any:
        return self.page.goto(self.world.url(path))

    def sign_in(self, tenant: str = "acme") -> None:
        self.goto("/login")
        self.page.fill("input[name=api_key]", self.world.keys[tenant])
        self.page.click("button[type=submit]")
        self.page.wait_for_url(self.world.url("/"))

    def shot(self, name: str) -> None:
        self.world.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.world.shots / f"{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        refused = [
            e for e in self.errors if e.startswith("Failed to load resource: the server responded with a status of 4")
        ]
        assert len(refused) == self.expected_refusals, f"refused resources: {refused}"
        self.errors = [e for e in self.errors if e not in refused]
        assert self.errors == [], f"JavaScript console errors: {self.errors}"
        assert self.offsite == [], f"requests off the API's origin: {self.offsite}"


@pytest.fixture
def tab(browser: Any, world: World) -> Iterator[Tab]:
    t = Tab(browser, world)
    t.sign_in()
    yield t
    t.close()


def test_signing_in_with_an_api_key_opens_the_overview_and_a_bad_key_is_refused(browser: Any, world: World) -> None:
    t = Tab(browser, world)
    t.goto("/endpoints")
    assert t.page.url.startswith(world.url("/login")), "signed out: every page asks to sign in"
    t.page.fill("input[name=api_key]", "ck_not-a-key")
    t.expected_refusals += 1
    t.page.click("button[type=submit]")
    assert "unknown or revoked" in t.page.inner_text("[role=alert]")

    t.page.fill("input[name=api_key]", world.keys["acme"])
    t.page.click("button[type=submit]")
    t.page.wait_for_url(world.url("/endpoints"))  # back where it was going
    (cookie,) = [c for c in t.context.cookies() if c["name"] == "cronicorn_session"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert world.keys["acme"] not in cookie["value"]
    t.goto("/")
    assert "acme" in t.page.inner_text("[data-testid=tenant]")
    assert "report" in t.page.inner_text("[data-testid=failing]")
    assert "Last tick" in t.page.inner_text("[data-testid=tick-age]")
    t.shot("overview")
    t.close()


def test_the_endpoint_table_lists_the_tenants_endpoints_and_searches_them(tab: Tab) -> None:
    from playwright.sync_api import expect

    tab.goto("/endpoints")
    table = tab.page.locator("[data-testid=endpoint-table] tbody tr")
    assert table.count() == 5
    assert "private" not in tab.page.inner_text("main"), "another tenant's endpoint is never listed"
    tab.shot("endpoints")
    tab.page.fill("input[name=q]", "repo")
    expect(table).to_have_count(1)  # htmx swapped the filtered table in
    assert "report" in tab.page.inner_text("[data-testid=endpoint-table]")


def test_the_timeline_plots_one_point_per_run_and_the_run_page_masks_secrets(tab: Tab, world: World) -> None:
    count = len(finished_runs(world.engine, world.ids["sync"]))
    tab.goto(f"/endpoints/{world.ids['sync']}")
    tab.page.wait_for_function("window.cronicornTimeline && window.cronicornTimeline.plot !== null")
    plotted = tab.page.evaluate("({runs: cronicornTimeline.runs, points: cronicornTimeline.points})")
    assert plotted == {"runs": count, "points": count}
    assert tab.page.locator("#timeline canvas").count() == 1
    assert tab.page.locator("[data-testid=runs] tbody tr").count() == count
    assert "ended" in tab.page.inner_text("[data-testid=why]")  # max_runs=4 ran out: it says so
    assert "s3cret" not in tab.page.content() and "abc123" not in tab.page.content()
    tab.shot("endpoint")

    tab.page.locator("[data-testid=runs] tbody tr a").first.click()
    tab.page.wait_for_url("**/runs/*")
    text = tab.page.inner_text("main")
    assert "token=***" in text and "abc123" not in text
    assert "Authorization: ***" in text and "s3cret" not in text
    tab.shot("run")


def test_run_now_moves_the_next_run_to_now_and_a_worker_runs_it(tab: Tab, world: World) -> None:
    report = world.ids["report"]
    before = world.acme.get_endpoint(report)
    assert before.next_run_at is not None and before.next_run_at > utcnow() + timedelta(minutes=30)
    tab.goto(f"/endpoints/{report}")
    tab.page.click("button[data-action=run-now]")
    tab.page.wait_for_selector("[data-testid=done]")
    assert "Run requested" in tab.page.inner_text("[data-testid=done]")
    wait_for(lambda: len(finished_runs(world.engine, report)) >= 2, 30, "the requested run")
    assert "manual" in {r.source for r in finished_runs(world.engine, report)}


def test_pause_and_resume_move_the_next_run_and_a_bad_value_is_shown_not_stored(tab: Tab, world: World) -> None:
    report = world.ids["report"]
    tab.goto(f"/endpoints/{report}")
    tab.page.fill("input[name=minutes]", "30")
    tab.page.fill("form[action$='/pause'] input[name=reason]", "maintenance")
    tab.page.click("button[data-action=pause]")
    tab.page.wait_for_selector("[data-testid=done]")
    paused = world.acme.get_endpoint(report)
    assert paused.paused_until is not None and paused.next_run_at == paused.paused_until
    assert paused.paused_until > utcnow() + timedelta(minutes=25)
    assert tab.page.inner_text("[data-testid=status]") == "paused"
    tab.goto("/")
    assert "maintenance" in tab.page.inner_text("[data-testid=paused]")

    tab.goto(f"/endpoints/{report}")
    tab.page.click("button[data-action=resume]")
    tab.page.wait_for_selector("[data-testid=done]")
    assert world.acme.get_endpoint(report).paused_until is None

    tab.page.fill("form[action$='/pause'] input[name=until]", "2020-01-01T00:00")
    tab.page.click("button[data-action=pause]")
    tab.page.wait_for_selector("[data-testid=error]")
    assert "until" in tab.page.inner_text("[data-testid=error]")
    assert world.acme.get_endpoint(report).paused_until is None


def test_another_tenants_endpoints_runs_and_actions_answer_404(tab: Tab, world: World) -> None:
    tab.expected_refusals = 2
    assert tab.goto(f"/endpoints/{world.ids['other']}").status == 404
    assert tab.goto(f"/runs/{world.ids['other_run']}").status == 404
    csrf = tab.page.evaluate("document.querySelector('input[name=csrf]').value")
    answer = tab.page.request.post(
        world.url(f"/endpoints/{world.ids['other']}/actions/pause"), form={"csrf": csrf, "minutes": "30"}
    )
    assert answer.status == 404
    assert Cronicorn(world.engine, tenant_id="other").get_endpoint(world.ids["other"]).paused_until is None


def test_an_action_without_the_sessions_csrf_token_is_refused(tab: Tab, world: World) -> None:
    tab.goto("/")
    answer = tab.page.request.post(
        world.url(f"/endpoints/{world.ids['report']}/actions/pause"), form={"csrf": "forged", "minutes": "30"}
    )
    assert answer.status == 403
    assert world.acme.get_endpoint(world.ids["report"]).paused_until is None


def test_the_api_docs_render_from_local_assets(tab: Tab) -> None:
    tab.goto("/api/docs")
    tab.page.wait_for_selector(".swagger-ui .info .title", timeout=20_000)
    assert "Cronicorn API" in tab.page.inner_text(".swagger-ui .info .title")
    tab.shot("api-docs")


def test_the_dependency_graph_draws_the_tenants_pipeline_with_each_edges_last_evaluation(
    tab: Tab, world: World
) -> None:
    ids = world.ids
    tab.goto("/dependencies")
    tab.page.wait_for_function("window.cronicornGraph !== undefined")
    # Three endpoints with edges (not the five the tenant has), two edges, drawn and listed
    assert tab.page.evaluate("window.cronicornGraph") == {"nodes": 3, "edges": 2}
    assert tab.page.locator("#graph svg a.node").count() == 3
    assert tab.page.locator("#graph svg g.edge").count() == 2
    rows = tab.page.locator("[data-testid=edges] tbody tr")
    assert rows.count() == 2
    # The edge that triggered publish says so, when, and from which ingest run
    fired = tab.page.locator(f"[data-testid=edges] tr[data-to='{ids['publish']}']")
    assert fired.get_attribute("data-result") == "fired"
    assert "fired" in fired.inner_text() and "ago" in fired.inner_text()
    assert fired.locator(f"a[href='/runs/{ids['ingest_run']}']").count() == 1
    drawn = tab.page.locator(f"#graph g.edge[data-to='{ids['publish']}']")
    assert drawn.get_attribute("data-result") == "fired" and "trigger · fired" in (drawn.text_content() or "")
    check = tab.page.locator(f"[data-testid=edges] tr[data-to='{ids['check']}']")
    assert check.get_attribute("data-result") == "condition-false" and "trigger + gate" in check.inner_text()
    # Another tenant's endpoints are not part of it
    assert "private" not in tab.page.inner_text("main") and "hidden-downstream" not in tab.page.content()
    tab.shot("dependencies")
    # A node opens its endpoint's page
    tab.page.locator(f"#graph svg a.node[data-id='{ids['ingest']}']").click()
    tab.page.wait_for_url(world.url(f"/endpoints/{ids['ingest']}"))


def test_a_jobs_graph_holds_its_edges_and_another_tenants_job_graph_answers_404(tab: Tab, world: World) -> None:
    tab.goto(f"/jobs/{world.ids['pipeline']}/dependencies")
    tab.page.wait_for_function("window.cronicornGraph !== undefined")
    assert tab.page.evaluate("window.cronicornGraph") == {"nodes": 3, "edges": 2}  # both leave this job
    assert "Dependencies of pipeline" in tab.page.inner_text("h1")
    tab.expected_refusals = 1
    answer = tab.goto(f"/jobs/{world.ids['other_job']}/dependencies")
    assert answer.status == 404 and "hidden-downstream" not in tab.page.content()
