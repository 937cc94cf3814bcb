"""The remote client against a real uvicorn server: the same code as the direct client, over HTTP."""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine

from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.errors import Conflict, InvalidInput, NotFound
from cronicorn.core.settings import Settings
from cronicorn.producer.remote import RemoteCronicorn
from cronicorn.store.tenants import create_key, create_tenant
from tests.live_api import LiveApi

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"


@pytest.fixture
def live(engine: Engine, redis_conn: redis.Redis) -> Iterator[tuple[LiveApi, str]]:
    now = datetime.now(UTC)
    create_tenant(engine, now, "acme", tier="enterprise")
    _, key = create_key(engine, now, "acme", "remote")
    server = LiveApi(
        create_app(
            Deps(engine=engine, redis=redis_conn, settings=Settings.from_env({}), clock=lambda: datetime.now(UTC))
        )
    ).start()
    yield server, key
    server.stop()


def test_the_remote_client_has_the_direct_clients_behaviour(live: tuple[LiveApi, str]) -> None:
    server, key = live
    cron = RemoteCronicorn(server.url, key)
    job, (health, report) = cron.register(
        {"name": "billing"},
        [
            {
                "name": "health",
                "url": "https://api.example.com/health",
                "baseline_interval_ms": 60_000,
                "min_interval_ms": 10_000,
            },
            {
                "name": "report",
                "url": "https://api.example.com/report",
                "method": "POST",
                "body": {"kind": "nightly"},
                "baseline_cron": "0 2 * * *",
                "timezone": "Europe/Berlin",
            },
        ],
    )
    again_job, again = cron.register(
        {"name": "billing"},
        [
            {
                "name": "health",
                "url": "https://api.example.com/health",
                "baseline_interval_ms": 60_000,
                "min_interval_ms": 10_000,
            }
        ],
    )
    assert again_job.id == job.id and again[0].id == health.id and again[0].updated_at == health.updated_at
    assert report.body == {"kind": "nightly"} and report.timezone == "Europe/Berlin"
    assert isinstance(health.next_run_at, datetime)
    hinted = cron.set_interval_hint(health.id, 15_000, ttl_minutes=30, reason="incident")
    assert hinted.ai_hint_interval_ms == 15_000 and hinted.next_run_at < health.next_run_at
    assert [p.source for p in cron.explain(health.id, n=2)] == ["ai-interval", "ai-interval"]
    paused = cron.pause_endpoint(health.id, datetime.now(UTC) + timedelta(hours=1), reason="maintenance")
    assert paused.paused_by == "user"
    with pytest.raises(Conflict):
        cron.run_now(health.id)
    assert cron.resume_endpoint(health.id).paused_until is None
    assert cron.update_endpoint(health.id, baseline_interval_ms=120_000).baseline_interval_ms == 120_000
    with pytest.raises(InvalidInput) as info:
        cron.update_endpoint(health.id, baseline_interval_ms=10)
    assert info.value.errors[0].field == "baseline_interval_ms"
    with pytest.raises(NotFound):
        cron.get_endpoint("no-such-endpoint")
    assert cron.list_runs(endpoint_id=health.id).total == 0
    assert {e.name for e in cron.list_endpoints(job.id)} == {"health", "report"}
    assert cron.archive_job(job.id).status == "archived"


def test_the_remote_client_sets_schedule_options_and_backfills_like_the_direct_client(
    live: tuple[LiveApi, str],
) -> None:
    server, key = live
    cron = RemoteCronicorn(server.url, key)
    now = datetime.now(UTC).replace(microsecond=0)
    spec = {
        "name": "nightly",
        "url": "https://api.example.com/nightly",
        "baseline_cron": "0 * * * *",
        "catch_up": "all",
        "overlap": "buffer_one",
        "jitter_ms": 60_000,
        "ends_at": now + timedelta(days=30),
        "max_runs": 5,
    }
    job, [ep] = cron.register({"name": "options"}, [spec])
    assert (ep.catch_up, ep.overlap, ep.jitter_ms, ep.ends_at, ep.runs_left) == (
        "all",
        "buffer_one",
        60_000,
        now + timedelta(days=30),
        5,
    )
    assert isinstance(ep.grid_slot_at, datetime) and ep.grid_slot_at <= ep.next_run_at
    _, [again] = cron.register({"name": "options"}, [spec])
    assert again.updated_at == ep.updated_at  # the same declaration writes nothing
    backfilling = cron.backfill(ep.id, now - timedelta(hours=3), now)
    assert backfilling.next_run_source == "backfill" and backfilling.backfill_until == now
    assert [p.source for p in cron.explain(ep.id, n=3)] == ["backfill"] * 3
    with pytest.raises(Conflict, match="in progress"):
        cron.backfill(ep.id, now - timedelta(hours=3), now)
    with pytest.raises(InvalidInput) as refused:
        cron.update_endpoint(ep.id, catch_up="sometimes")
    assert refused.value.errors[0].field == "catch_up"
    assert cron.archive_job(job.id).status == "archived"


def test_the_seed_curl_examples_work_as_written_with_the_host_changed(live: tuple[LiveApi, str]) -> None:
    server, key = live
    seed = next(iter(SEEDS.glob("002_*.txt")), None)
    if seed is None:
        pytest.skip(f"the team kit's seeds are not beside the repository ({SEEDS})")
    text = seed.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    commands = [c for block in blocks for c in re.split(r"\n(?=curl )", block) if c.startswith("curl")]
    assert len(commands) >= 6
    ids: dict[str, str] = {}
    for command in commands:
        command = re.sub(r"#.*", "", command).replace("https://api.cronicorn.com", server.url).replace("YOUR_KEY", key)
        for placeholder in ("job_abc123", "JOB_ID", "ENDPOINT_ID"):
            if placeholder in command and placeholder in ids:
                command = command.replace(placeholder, ids[placeholder])
        argv = shlex.split(command.replace("\\\n", " "))
        result = subprocess.run([*argv, "-s", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30)
        body, _, code = result.stdout.rpartition("\n")
        assert code in ("200", "201"), (command, code, body)
        if "/api/jobs \\" in command or command.rstrip().endswith("/api/jobs"):
            import json

            ids["job_abc123"] = ids["JOB_ID"] = json.loads(body)["id"]
        elif "/endpoints" in command and "-X POST" in command:
            import json

            ids["ENDPOINT_ID"] = json.loads(body)["id"]


def test_a_remote_register_refused_on_one_endpoint_leaves_nothing_behind(
    live: tuple[LiveApi, str], engine: Engine
) -> None:
    # Given a tenant on the free tier (intervals of a minute or more)
    server, _ = live
    create_tenant(engine, datetime.now(UTC), "small", tier="free")
    cron = RemoteCronicorn(server.url, create_key(engine, datetime.now(UTC), "small", "k")[1])
    ok = {"name": "ok", "url": "https://api.example.com/ok", "baseline_interval_ms": 60_000}
    fast = {"name": "fast", "url": "https://api.example.com/fast", "baseline_interval_ms": 10_000}
    # When a registration's second endpoint is faster than the tier allows
    with pytest.raises(InvalidInput) as refused:
        cron.register({"name": "billing"}, [ok, fast])
    # Then the field is named as the direct client names it, and neither the job nor the first endpoint exists
    assert [e.field for e in refused.value.errors] == ["endpoints[1].baseline_interval_ms"]
    assert cron.list_jobs() == []
    with pytest.raises(InvalidInput) as bad:
        cron.register({"name": "billing"}, [ok, {**ok, "name": "", "timeout_ms": 5}])
    assert {e.field for e in bad.value.errors} == {"endpoints[1].name", "endpoints[1].timeout_ms"}
    assert cron.list_jobs() == []
    job, [saved] = cron.register({"name": "billing"}, [ok])
    assert saved.job_id == job.id and saved.baseline_interval_ms == 60_000


def test_the_remote_client_refuses_the_camel_case_keys_the_direct_client_refuses(
    live: tuple[LiveApi, str], engine: Engine
) -> None:
    from cronicorn.producer.client import Cronicorn

    server, key = live
    remote, direct = RemoteCronicorn(server.url, key), Cronicorn(engine, tenant_id="acme")
    spec = {"name": "h", "url": "https://api.example.com/h", "baselineIntervalMs": 60_000}
    for cron in (remote, direct):
        job = cron.create_job(name=f"j-{type(cron).__name__}")
        with pytest.raises(InvalidInput) as refused:
            cron.add_endpoint(job.id, spec)
        assert [(e.field, e.reason) for e in refused.value.errors] == [("baselineIntervalMs", "unknown field")]
        with pytest.raises(InvalidInput) as refused:
            cron.register({"name": "r"}, [spec])
        assert refused.value.errors[0].field == "endpoints[0].baselineIntervalMs"
        with pytest.raises(InvalidInput) as refused:
            cron.create_job({"name": "x", "jobName": "x"})
        assert refused.value.errors[0].field == "jobName"
        assert cron.list_endpoints(job.id) == []
    assert [j.name for j in remote.list_jobs()] == ["j-RemoteCronicorn", "j-Cronicorn"]
