"""The MCP server through the SDK's own client: over stdio (`cronicorn mcp` as a subprocess) and over
streamable HTTP (a real server on a free port), against PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
import redis
import uvicorn
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from sqlalchemy import Engine

from cronicorn.api.deps import Deps
from cronicorn.api.mcp.scope import Caller
from cronicorn.api.mcp.serve import http_app
from cronicorn.api.mcp.server import DOCS, build_server, doc_text
from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.store.dependency_edges import decision
from cronicorn.store.engine import make_engine
from cronicorn.store.tables import dependencies
from cronicorn.store.tenants import create_key, create_tenant
from tests.services import POSTGRES_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[1]
CRONICORN = str(Path(sys.executable).parent / "cronicorn")

EVERY_TOOL = {
    "create_job", "get_job", "list_jobs", "update_job", "pause_job", "resume_job", "archive_job",
    "add_endpoint", "get_endpoint", "list_endpoints", "update_endpoint", "pause_endpoint", "resume_endpoint",
    "archive_endpoint", "set_interval_hint", "set_oneshot_hint", "clear_hints", "run_now", "reset_failures",
    "test_call", "backfill", "list_runs", "get_run", "list_sessions", "get_session", "explain_endpoint",
    "list_conflicts", "get_health", "set_dependency", "get_dependency", "clear_dependency",
}  # fmt: skip

# The seed document's "Setup via MCP Server" walkthrough, as the tool calls an assistant makes for it.
HEALTH_CHECK = {
    "name": "Health Check",
    "url": "https://api.example.com/health",
    "method": "GET",
    "baseline_interval_ms": 60000,
    "min_interval_ms": 10000,
    "max_interval_ms": 300000,
    "timeout_ms": 10000,
    "description": "Monitors service health. When status is degraded or error_count > 0, poll faster. "
    "When errors detected, trigger-recovery should run immediately.",
}
TRIGGER_RECOVERY = {
    "name": "Trigger Recovery",
    "url": "https://api.example.com/admin/restart",
    "method": "POST",
    "baseline_interval_ms": 3600000,
    "min_interval_ms": 300000,
    "timeout_ms": 30000,
    "description": "Recovery action that restarts the service. Only run when health-check shows errors. "
    "After triggering, wait at least 5 minutes before another attempt.",
}


@pytest.fixture
def tenants(pg_engine: Engine) -> dict[str, str]:
    """Two tenants with a key each: {tenant id: plain key}."""
    keys = {}
    for tenant_id in ("acme", "other"):
        create_tenant(pg_engine, utcnow(), tenant_id, tier="pro")
        keys[tenant_id] = create_key(pg_engine, utcnow(), tenant_id, "mcp")[1]
    return keys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(engine: Engine, **env: str) -> Iterator[str]:
    """`cronicorn mcp --transport http`'s app, served by uvicorn in a thread; yields the /mcp URL."""
    settings = Settings.from_env({"CRONICORN_DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_URL, **env})
    deps = Deps(engine=engine, redis=redis.Redis.from_url(REDIS_URL), settings=settings, clock=utcnow)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(http_app(deps), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the MCP HTTP server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/mcp"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def http_server(pg_engine: Engine, redis_conn: redis.Redis) -> Iterator[str]:
    with _serve(pg_engine) as url:
        yield url


def _stdio(env: dict[str, str]) -> StdioServerParameters:
    base = {"CRONICORN_DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_URL, "PATH": "/usr/bin:/bin"}
    return StdioServerParameters(command=CRONICORN, args=["mcp"], env={**base, **env})


@asynccontextmanager
async def _http(url: str, key: str) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            yield client


async def _call(client: Client, tool: str, **arguments: Any) -> Any:
    """A tool's structured result; fails the test on a tool error."""
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def _error(client: Client, tool: str, **arguments: Any) -> str:
    """A tool error's text; fails the test when the call succeeds."""
    result = await client.call_tool(tool, arguments)
    assert result.is_error, f"{tool} succeeded: {result.structured_content}"
    return str(result.content[0].text)  # type: ignore[union-attr]


def _runs(engine: Engine, endpoint_id: str) -> None:
    """Two finished runs of the endpoint, as the execute workers record them."""
    import uuid

    from cronicorn.store.tables import runs

    endpoint = Cronicorn(engine, tenant_id="acme").get_endpoint(endpoint_id)
    with engine.begin() as conn:
        for i, (status, code) in enumerate((("success", 200), ("failed", 503))):
            at = utcnow() - timedelta(minutes=5 - i)
            conn.execute(
                runs.insert().values(
                    id=str(uuid.uuid4()),
                    endpoint_id=endpoint_id,
                    job_id=endpoint.job_id,
                    status=status,
                    scheduled_at=at,
                    attempt=1,
                    fence=i + 1,
                    started_at=at,
                    finished_at=at,
                    duration_ms=120,
                    status_code=code,
                    response_body={"status": "degraded" if code == 503 else "healthy"},
                )
            )


# --- stdio -----------------------------------------------------------------------------------------------
def test_over_stdio_every_tool_is_listed_with_a_schema_carrying_the_caps_of_rest(tenants: dict[str, str]) -> None:
    async def scenario() -> None:
        async with Client(_stdio({"CRONICORN_API_KEY": tenants["acme"]})) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            assert set(tools) == EVERY_TOOL
            for tool in tools.values():
                assert tool.description and tool.input_schema["type"] == "object", tool.name
            endpoint = tools["add_endpoint"].input_schema["properties"]["endpoint"]
            assert endpoint["required"] == ["name", "url"]
            assert {"minimum": 1000, "maximum": 31622400000, "type": "integer"} in endpoint["properties"][
                "baseline_interval_ms"
            ]["anyOf"]
            assert endpoint["properties"]["name"]["maxLength"] == 255
            assert tools["list_runs"].input_schema["properties"]["limit"]["maximum"] == 1000
            for confirm in ("pause_job", "archive_job", "archive_endpoint"):
                assert "confirmation" in str(tools[confirm].description), confirm
                assert tools[confirm].annotations and tools[confirm].annotations.destructive_hint

    asyncio.run(scenario())


def test_over_stdio_the_seed_walkthrough_creates_a_job_with_two_endpoints_pauses_one_and_reads_its_runs(
    pg_engine: Engine, tenants: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with Client(_stdio({"CRONICORN_API_KEY": tenants["acme"]})) as client:
            # Given the seed's job, created by the tools an assistant calls for it
            job = await _call(client, "create_job", name="Service Recovery Workflow")
            assert job["tenant_id"] == "acme" and job["status"] == "active"
            health = await _call(client, "add_endpoint", job_id=job["id"], endpoint=HEALTH_CHECK)
            recovery = await _call(client, "add_endpoint", job_id=job["id"], endpoint=TRIGGER_RECOVERY)
            assert health["next_run_at"] and recovery["method"] == "POST"
            listed = await _call(client, "list_endpoints", job_id=job["id"])
            assert [e["name"] for e in listed["endpoints"]] == ["Health Check", "Trigger Recovery"]

            # When the recovery action is paused for an hour
            paused = await _call(client, "pause_endpoint", endpoint_id=recovery["id"], for_minutes=60, reason="drill")
            assert paused["paused_by"] and paused["pause_reason"] == "drill"
            why = await _call(client, "explain_endpoint", endpoint_id=recovery["id"])
            assert why["why"][0].startswith("paused by") and "drill" in why["why"][0]

            # Then the health check's runs read back, newest first, and one in full
            _runs(pg_engine, health["id"])
            page = await _call(client, "list_runs", endpoint_id=health["id"])
            assert page["total"] == 2 and [r["status_code"] for r in page["runs"]] == [503, 200]
            run = await _call(client, "get_run", run_id=page["runs"][0]["id"])
            assert run["response_body"] == {"status": "degraded"}
            why = await _call(client, "explain_endpoint", endpoint_id=health["id"])
            assert any("last run failed" in line and "HTTP 503" in line for line in why["why"])

            # And the whole job pauses and resumes
            assert (await _call(client, "pause_job", job_id=job["id"]))["status"] == "paused"
            assert (await _call(client, "resume_job", job_id=job["id"]))["status"] == "active"

    asyncio.run(scenario())


def test_over_stdio_a_bad_argument_is_a_tool_error_naming_the_field_and_writes_nothing(
    pg_engine: Engine, tenants: dict[str, str]
) -> None:
    async def scenario() -> None:
        async with Client(_stdio({"CRONICORN_API_KEY": tenants["acme"]})) as client:
            job = await _call(client, "create_job", name="j")
            too_fast = {**HEALTH_CHECK, "baseline_interval_ms": 5}
            text = await _error(client, "add_endpoint", job_id=job["id"], endpoint=too_fast)
            assert "endpoint.baseline_interval_ms: must be >= 1000" in text
            text = await _error(client, "add_endpoint", job_id=job["id"], endpoint={**HEALTH_CHECK, "colour": "red"})
            assert "endpoint.colour: unknown field" in text
            text = await _error(client, "list_runs", limit=0)  # checked by the schema, in the same words
            assert "limit: must be >= 1" in text
            text = await _error(client, "create_job", name="x" * 256)
            assert "name: must be at most 255 characters long" in text
            assert "Error executing tool" not in text  # never dressed as an internal error
            assert Cronicorn(pg_engine, tenant_id="acme").list_endpoints(job["id"]) == []

    asyncio.run(scenario())


def test_over_stdio_another_tenants_objects_are_not_found(pg_engine: Engine, tenants: dict[str, str]) -> None:
    theirs = Cronicorn(pg_engine, tenant_id="other")
    job = theirs.create_job(name="theirs")
    endpoint = theirs.add_endpoint(job.id, name="e", url="https://x.example/", baseline_interval_ms=60_000)

    async def scenario() -> None:
        async with Client(_stdio({"CRONICORN_API_KEY": tenants["acme"]})) as client:
            assert "not found" in await _error(client, "get_job", job_id=job.id)
            assert "not found" in await _error(client, "pause_job", job_id=job.id)
            assert "not found" in await _error(client, "get_endpoint", endpoint_id=endpoint.id)
            assert "not found" in await _error(client, "list_runs", endpoint_id=endpoint.id)
            assert (await _call(client, "list_jobs"))["jobs"] == []

    asyncio.run(scenario())
    assert theirs.get_job(job.id).status == "active"


def test_over_stdio_without_a_key_it_serves_the_local_default_tenant(pg_engine: Engine) -> None:
    async def scenario() -> None:
        async with Client(_stdio({})) as client:
            job = await _call(client, "create_job", name="local")
            assert job["tenant_id"] == "default"

    asyncio.run(scenario())


def test_over_stdio_the_docs_are_resources_and_the_prompts_are_listed(pg_engine: Engine) -> None:
    async def scenario() -> None:
        async with Client(_stdio({})) as client:
            uris = {str(r.uri) for r in (await client.list_resources()).resources}
            assert uris == {f"cronicorn://docs/{name}" for _, name, _, _ in DOCS}
            read = await client.read_resource("cronicorn://docs/coordination")
            assert "### Dependencies" in read.contents[0].text  # type: ignore[union-attr]
            prompts = {p.name for p in (await client.list_prompts()).prompts}
            assert prompts == {"setup_health_check_with_recovery", "why_didnt_it_run"}
            prompt = await client.get_prompt(
                "setup_health_check_with_recovery",
                {"health_url": "https://s.example/health", "recovery_url": "https://s.example/restart"},
            )
            assert "https://s.example/restart" in prompt.messages[0].content.text  # type: ignore[union-attr]

    asyncio.run(scenario())


# --- streamable HTTP -------------------------------------------------------------------------------------
def test_cronicorn_mcp_over_http_refuses_a_request_without_a_valid_key_and_serves_one_with(
    tenants: dict[str, str],
) -> None:
    port = _free_port()
    env = {"CRONICORN_DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_URL, "PATH": "/usr/bin:/bin"}
    proc = subprocess.Popen([CRONICORN, "mcp", "--transport", "http", "--port", str(port)], env=env)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "cronicorn mcp did not serve"
                time.sleep(0.1)
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        assert httpx.post(url, json=body).status_code == 401
        refused = httpx.post(url, json=body, headers={"Authorization": "Bearer ck_nope"})
        assert refused.status_code == 401 and "invalid" in refused.json()["error"]

        async def scenario() -> None:
            async with _http(url, tenants["acme"]) as acme:
                assert {t.name for t in (await acme.list_tools()).tools} == EVERY_TOOL
                assert (await _call(acme, "create_job", name="over http"))["tenant_id"] == "acme"

        asyncio.run(scenario())
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_over_http_each_key_sees_only_its_tenant(pg_engine: Engine, http_server: str, tenants: dict[str, str]) -> None:
    async def scenario() -> None:
        async with _http(http_server, tenants["acme"]) as acme, _http(http_server, tenants["other"]) as other:
            assert {t.name for t in (await acme.list_tools()).tools} == EVERY_TOOL
            job = await _call(acme, "create_job", name="Service Recovery Workflow")
            assert job["tenant_id"] == "acme"
            health = await _call(acme, "add_endpoint", job_id=job["id"], endpoint=HEALTH_CHECK)
            hinted = await _call(acme, "set_interval_hint", endpoint_id=health["id"], interval_ms=1000, reason="fire")
            assert hinted["ai_hint_interval_ms"] == 1000 and hinted["notes"]  # clamped to min_interval_ms, said so
            assert (await _call(acme, "pause_job", job_id=job["id"]))["status"] == "paused"
            _runs(pg_engine, health["id"])
            assert (await _call(acme, "list_runs", job_id=job["id"]))["total"] == 2

            # The other tenant's key finds none of it
            assert "not found" in await _error(other, "get_job", job_id=job["id"])
            assert "not found" in await _error(other, "run_now", endpoint_id=health["id"])
            assert (await _call(other, "list_runs"))["total"] == 0
            text = await _error(other, "set_interval_hint", endpoint_id=health["id"], interval_ms=0)
            assert "interval_ms: must be >= 1" in text

    asyncio.run(scenario())


def test_over_http_a_key_is_held_to_the_rest_rate_limits(
    pg_engine: Engine, redis_conn: redis.Redis, tenants: dict[str, str]
) -> None:
    async def scenario(url: str) -> None:
        async with _http(url, tenants["acme"]) as acme, _http(url, tenants["other"]) as other:
            await _call(acme, "list_jobs")
            await _call(acme, "list_jobs")
            text = await _error(acme, "list_jobs")
            assert text.startswith("rate limit of 2 reads per minute reached for this key; retry in")
            await _call(acme, "create_job", name="writes are counted apart")
            await _call(other, "list_jobs")  # per key

    with _serve(pg_engine, CRONICORN_API_READS_PER_MIN="2") as url:
        asyncio.run(scenario(url))


def test_an_unknown_argument_is_refused_by_name(pg_engine: Engine, tenants: dict[str, str]) -> None:
    async def scenario() -> None:
        async with Client(_stdio({})) as client:
            assert "colour: unknown argument" in await _error(client, "create_job", name="j", colour="red")
            assert (await _call(client, "list_jobs"))["jobs"] == []

    asyncio.run(scenario())


# --- in process (the SDK's client on the server object), on SQLite -------------------------------------------
def _local(engine: Engine, tenant_id: str = "default", **env: str) -> Client:
    settings = Settings.from_env({"REDIS_URL": REDIS_URL, **env})
    deps = Deps(engine=engine, redis=redis.Redis.from_url(REDIS_URL), settings=settings, clock=utcnow)
    return Client(build_server(deps, Caller(tenant_id, None)))


def test_explain_says_why_an_endpoint_does_not_run(sqlite_engine: Engine) -> None:
    async def scenario() -> None:
        async with _local(sqlite_engine) as client:
            job = await _call(client, "create_job", name="nightly")
            ep = await _call(client, "add_endpoint", job_id=job["id"], endpoint=HEALTH_CHECK)
            await _call(client, "set_interval_hint", endpoint_id=ep["id"], interval_ms=20000, reason="incident")
            why = (await _call(client, "explain_endpoint", endpoint_id=ep["id"], n=3))["why"]
            assert any(line.startswith("hint: every 20000 ms") and "incident" in line for line in why)
            assert why[-1] == "it has not run yet"

            await _call(client, "pause_job", job_id=job["id"])
            explained = await _call(client, "explain_endpoint", endpoint_id=ep["id"])
            assert explained["why"][0] == "its job 'nightly' is paused: no endpoint of it runs until resume_job"
            assert explained["planned"] == []
            assert "conflict" in await _error(client, "run_now", endpoint_id=ep["id"])

            await _call(client, "resume_job", job_id=job["id"])
            renamed = await _call(client, "update_job", job_id=job["id"], name="nightly 2", description="d")
            assert (renamed["name"], renamed["description"]) == ("nightly 2", "d")
            cleared = await _call(client, "update_job", job_id=job["id"], clear_description=True)
            assert (cleared["name"], cleared["description"]) == ("nightly 2", None)
            assert "name: give name" in await _error(client, "update_job", job_id=job["id"])
            await _call(client, "archive_endpoint", endpoint_id=ep["id"])
            why = (await _call(client, "explain_endpoint", endpoint_id=ep["id"]))["why"]
            assert why[0].startswith("archived at") and why[0].endswith("it never runs again")

    asyncio.run(scenario())


def test_a_test_call_answers_what_the_target_said_and_stores_nothing(sqlite_engine: Engine, target: Any) -> None:
    async def scenario() -> None:
        async with _local(sqlite_engine, CRONICORN_SSRF_ALLOW="127.0.0.0/8") as client:
            job = await _call(client, "create_job", name="j")
            ep = await _call(
                client,
                "add_endpoint",
                job_id=job["id"],
                endpoint={"name": "echo", "url": target.url("/echo"), "method": "POST", "body": {"x": 1}, **_EVERY_MIN},
            )
            outcome = await _call(client, "test_call", endpoint_id=ep["id"])
            assert outcome["ok"] and outcome["status_code"] == 200 and outcome["body_json"]["body"] == {"x": 1}
            assert (await _call(client, "list_runs", endpoint_id=ep["id"]))["total"] == 0

    asyncio.run(scenario())


def test_a_database_that_cannot_be_reached_is_a_tool_error_saying_so() -> None:
    down = make_engine(f"postgresql+psycopg2://postgres@127.0.0.1:{_free_port()}/nothing")

    async def scenario() -> None:
        async with _local(down) as client:
            text = await _error(client, "list_jobs")
            assert text.startswith("database unavailable (OperationalError)")

    asyncio.run(scenario())


_EVERY_MIN = {"baseline_interval_ms": 60_000}


def test_a_dependency_is_set_read_back_explained_and_cleared_over_the_validated_client_path(
    pg_engine: Engine, tenants: dict[str, str]
) -> None:
    theirs = Cronicorn(pg_engine, tenant_id="other")
    their_job = theirs.create_job(name="theirs")
    their_ep = theirs.add_endpoint(their_job.id, name="e", url="https://x.example/", baseline_interval_ms=60_000)

    async def scenario() -> None:
        async with _local(pg_engine, "acme") as client:
            job = await _call(client, "create_job", name="pipeline")
            ingest = await _call(client, "add_endpoint", job_id=job["id"], endpoint={**HEALTH_CHECK, "name": "ingest"})
            report = await _call(client, "add_endpoint", job_id=job["id"], endpoint={**HEALTH_CHECK, "name": "report"})
            none = await _call(client, "get_dependency", endpoint_id=report["id"])
            assert none["spec"] is None and none["upstreams"] == []

            spec = {
                "upstream_endpoint_ids": [ingest["id"]],
                "condition": '$.status == "done"',
                "batch_key": "$.batch_id",
                "gate": True,
                "template": {"query": {"batch_id": "key"}},
            }
            declared = await _call(client, "set_dependency", endpoint_id=report["id"], dependency=spec)
            assert declared["spec"]["gate"] is True and declared["spec"]["fan_in"] == "all"
            read = await _call(client, "get_dependency", endpoint_id=report["id"])
            assert read["spec"] == declared["spec"] and read["spec"]["condition"] == '$.status == "done"'
            assert [u["upstream_endpoint_id"] for u in read["upstreams"]] == [ingest["id"]]

            # A bad expression is refused naming the field, and nothing changes
            bad = {**spec, "condition": "$.status = 'done'"}
            text = await _error(client, "set_dependency", endpoint_id=report["id"], dependency=bad)
            assert "dependency.condition: not a condition" in text and "Error executing tool" not in text
            text = await _error(client, "set_dependency", endpoint_id=report["id"], dependency={**spec, "when": 1})
            assert "dependency.when: unknown field" in text
            text = await _error(
                client, "set_dependency", endpoint_id=ingest["id"], dependency={"upstream_endpoint_ids": [report["id"]]}
            )
            assert "dependency.upstream_endpoint_ids[0]: would make a cycle: ingest" in text
            assert (await _call(client, "get_dependency", endpoint_id=report["id"]))["spec"] == declared["spec"]

            # Another tenant's endpoint is not found, as the downstream or as an upstream
            assert "not found" in await _error(client, "get_dependency", endpoint_id=their_ep.id)
            assert "not found" in await _error(client, "clear_dependency", endpoint_id=their_ep.id)
            assert "not found" in await _error(client, "set_dependency", endpoint_id=their_ep.id, dependency=spec)
            foreign = {"upstream_endpoint_ids": [their_ep.id]}
            text = await _error(client, "set_dependency", endpoint_id=ingest["id"], dependency=foreign)
            assert "dependency.upstream_endpoint_ids[0]" in text
            assert "not found" in await _error(client, "explain_endpoint", endpoint_id=their_ep.id)

            # "Why did or didn't it run" carries the dependency and the scheduler's decisions about it
            _decide(pg_engine, report["id"], "skipped", "gate closed: waiting for ingest")
            explained = await _call(client, "explain_endpoint", endpoint_id=report["id"])
            assert explained["dependency"]["gate"] is True
            assert [d["kind"] for d in explained["decisions"]] == ["skipped"]
            assert any(line.startswith("dependency (trigger and gate) on 1 upstream(s)") for line in explained["why"])
            assert any(line.endswith("skipped: gate closed: waiting for ingest") for line in explained["why"])
            plain = await _call(client, "explain_endpoint", endpoint_id=ingest["id"])
            assert plain["dependency"] is None and plain["decisions"] == []

            cleared = await _call(client, "clear_dependency", endpoint_id=report["id"])
            assert cleared == {"endpoint_id": report["id"], "cleared": True}
            assert (await _call(client, "clear_dependency", endpoint_id=report["id"]))["cleared"] is False
            assert (await _call(client, "get_dependency", endpoint_id=report["id"]))["spec"] is None

    asyncio.run(scenario())
    assert theirs.get_dependency(their_ep.id) is None


def _decide(engine: Engine, endpoint_id: str, kind: str, reason: str) -> None:
    """A decision as the scheduler records it (the runs that make one are tests/test_dependencies.py's)."""
    with engine.begin() as conn:
        conn.execute(
            dependencies.update()
            .where(dependencies.c.endpoint_id == endpoint_id)
            .values(decisions=[decision(utcnow(), kind, reason)])
        )


# --- docs -------------------------------------------------------------------------------------------------
def test_the_docs_served_as_resources_are_the_docs_pages_as_they_stand() -> None:
    checked = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mcp_docs.py"), "--check"], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout
    concepts = doc_text("concepts.md")
    assert "## Concepts" in concepts and "## The governor" in concepts and "## The AI planner" in concepts
    assert "## Configuration" in doc_text("configuration.md")
    assert "### The planner and conflicts" in doc_text("coordination.md")


def test_the_docs_show_the_mcp_setup_for_common_clients() -> None:
    section = (ROOT / "docs" / "mcp.md").read_text()
    config = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    server = config["mcpServers"]["cronicorn"]
    assert server["command"] == "cronicorn" and server["args"] == ["mcp"]
    for tool in ("create_job", "add_endpoint", "pause_endpoint", "list_runs", "explain_endpoint"):
        assert tool in section
