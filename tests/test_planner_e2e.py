"""The planner end to end: real beat, scheduler, execute and analysis workers, a local model server.

The seed scenarios (faster polling when degraded, recovery now when a sibling fails, pausing
low-priority work during a spike, ETL stages triggered by a new batch id) and the isolation
promises: a slow or failing model never slows HTTP calls, and one endpoint is never analysed
twice at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import Engine, select

from cronicorn.core.clock import utcnow
from cronicorn.producer.client import Cronicorn
from cronicorn.store.tables import endpoints, runs
from tests.cluster import Cluster, wait_for
from tests.fake_openai import Calls, FakeOpenAI, Fault, endpoint_name, submit
from tests.services import POSTGRES_URL, REDIS_URL
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e


class ByEndpoint:
    """A model script per endpoint name; each session restarts its endpoint's script."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[Calls | Fault]] = {}

    def __call__(self, messages: list[dict[str, Any]]) -> Calls | Fault:
        steps = self.scripts.get(endpoint_name(messages), [])
        done = sum(1 for m in messages if m["role"] == "assistant")
        return steps[done] if done < len(steps) else [submit()]


@pytest.fixture
def model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(ByEndpoint(), prompt_tokens=None).start()  # usage estimated from the real prompt size
    yield server
    server.stop()


@pytest.fixture
def setup(
    pg_engine: Engine, redis_conn: redis.Redis, tmp_path: Path, model: FakeOpenAI
) -> Iterator[tuple[Engine, Cluster]]:
    cluster = Cluster(
        database_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        log_dir=tmp_path,
        extra_env={
            "OPENAI_API_KEY": "test-key",
            "OPENAI_BASE_URL": model.base_url,
            "CRONICORN_AI_MODEL": "fake-model",
            "CRONICORN_ANALYSIS_INTERVAL_S": "1",
            "CRONICORN_AI_MIN_SPACING_S": "2",
            "CRONICORN_AI_TIMEOUT_S": "2",
            "CRONICORN_AI_RETRIES": "0",
        },
    )
    yield pg_engine, cluster
    cluster.stop()


def runs_of(engine: Engine, endpoint_id: str) -> list[Any]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(runs)
                .where(runs.c.endpoint_id == endpoint_id, runs.c.status != "running")
                .order_by(runs.c.started_at)
            )
        )


def test_the_seed_scenarios_adapt_schedules_through_real_workers(
    setup: tuple[Engine, Cluster], target: TargetServer, model: FakeOpenAI
) -> None:
    engine, cluster = setup
    client = Cronicorn(engine)
    script: ByEndpoint = model.script  # type: ignore[assignment]
    target.fixed.update(
        {
            "health": (200, {"status": "degraded"}),
            "traffic": (200, {"rpm": 9000}),
            "extract": (200, {"batch_id": "b-42"}),
            "transform": (200, {"processed_batch_id": "b-41"}),
        }
    )
    job = client.create_job(name="seed")
    health = client.add_endpoint(
        job.id,
        name="health",
        url=target.url("/fixed/health"),
        baseline_interval_ms=60_000,
        min_interval_ms=2_000,
        description="When degraded, poll every second.",
    )
    payments = client.add_endpoint(job.id, name="payments", url=target.url("/status/500"), baseline_interval_ms=60_000)
    recovery = client.add_endpoint(
        job.id,
        name="recovery",
        url=target.url("/ok"),
        baseline_interval_ms=3_600_000,
        min_interval_ms=600_000,
        description="Run now when payments fails; at most every 10 min.",
    )
    traffic = client.add_endpoint(job.id, name="traffic", url=target.url("/fixed/traffic"), baseline_interval_ms=60_000)
    analytics = client.add_endpoint(
        job.id,
        name="analytics",
        url=target.url("/ok"),
        baseline_interval_ms=1_000,
        description="Pause while traffic rpm > 5000; resume after.",
    )
    extract = client.add_endpoint(job.id, name="extract", url=target.url("/fixed/extract"), baseline_interval_ms=60_000)
    transform = client.add_endpoint(
        job.id,
        name="transform",
        url=target.url("/fixed/transform"),
        baseline_interval_ms=3_600_000,
        description="Run now when extract has a new batch_id.",
    )
    in_an_hour = (utcnow() + timedelta(hours=1)).isoformat()
    script.scripts.update(
        {
            "health": [
                [("get_latest_response", {})],
                [("propose_interval", {"intervalMs": 1000, "ttlMinutes": 30, "reason": "degraded"})],
            ],
            "recovery": [
                [("get_sibling_latest_responses", {})],
                [("propose_next_time", {"nextRunAtIso": utcnow().isoformat(), "reason": "payments failing"})],
            ],
            "analytics": [
                [("get_sibling_latest_responses", {})],
                [("pause_until", {"untilIso": in_an_hour, "reason": "traffic spike"})],
            ],
            "transform": [
                [("get_sibling_latest_responses", {})],
                [("propose_next_time", {"nextRunAtIso": utcnow().isoformat(), "reason": "new batch b-42"})],
            ],
        }
    )
    for ep in (health, payments, recovery, traffic, analytics, extract, transform):
        client.run_now(ep.id)  # one run each, so each has responses to analyse
    cluster.start_all(analysis=True)
    try:
        # Degraded: the AI asks for 1 s, the governor holds it to the 2 s minimum.
        wait_for(lambda: len(runs_of(engine, health.id)) >= 4, 60, "faster health polling")
        starts = [r.started_at for r in runs_of(engine, health.id)[1:]]
        assert all((b - a).total_seconds() >= 1.9 for a, b in pairwise(starts))
        # Sibling errors: recovery is asked to run now, but its 10-minute cooldown holds it back.
        wait_for(lambda: client.get_endpoint(recovery.id).next_run_source == "clamped-min", 30, "recovery planned")
        rec = client.get_endpoint(recovery.id)
        assert rec.ai_hint_next_run_at is not None and rec.next_run_at == rec.last_run_at + timedelta(minutes=10)
        # Spike: analytics pauses itself ...
        wait_for(lambda: client.get_endpoint(analytics.id).paused_by == "ai", 30, "analytics paused by the AI")
        paused_runs = len(runs_of(engine, analytics.id))
        # ... ETL: the new batch id runs transform now.
        wait_for(lambda: len(runs_of(engine, transform.id)) >= 2, 30, "transform run for the new batch")
        time.sleep(2)
        assert len(runs_of(engine, analytics.id)) <= paused_runs + 1  # at most the run in flight when it paused
        # ... and when traffic drops, the next session resumes it (its next analysis brought forward).
        target.fixed["traffic"] = (200, {"rpm": 800})
        script.scripts["analytics"] = [[("pause_until", {"untilIso": None, "reason": "traffic back to normal"})]]
        with engine.begin() as conn:
            conn.execute(endpoints.update().where(endpoints.c.id == analytics.id).values(ai_next_analysis_at=utcnow()))
        wait_for(lambda: client.get_endpoint(analytics.id).paused_until is None, 30, "analytics resumed")
        wait_for(lambda: len(runs_of(engine, analytics.id)) >= paused_runs + 2, 30, "analytics running again")
    except AssertionError:
        print(cluster.logs())
        raise
    sessions = client.list_sessions(limit=100)
    assert sessions and all(s["status"] == "success" for s in sessions)
    tokens = [s["prompt_tokens"] + s["completion_tokens"] for s in sessions]
    print(
        f"\nplanner scenario suite: {len(sessions)} sessions, {sum(tokens) / len(tokens):.0f} tokens per "
        "session on average"
    )


def test_a_slow_or_failing_model_never_slows_http_calls_and_one_endpoint_is_never_analysed_twice_at_once(
    setup: tuple[Engine, Cluster], target: TargetServer, model: FakeOpenAI
) -> None:
    engine, cluster = setup
    client = Cronicorn(engine)
    script: ByEndpoint = model.script  # type: ignore[assignment]
    job = client.create_job(name="isolation")
    busy = client.add_endpoint(job.id, name="busy", url=target.url("/ok"), baseline_interval_ms=1_000)
    stuck = client.add_endpoint(job.id, name="stuck", url=target.url("/ok"), baseline_interval_ms=1_000)
    script.scripts["busy"] = [Fault(delay_s=3.0)]  # slower than the 2 s model timeout
    script.scripts["stuck"] = [Fault(status=503)]
    client.run_now(busy.id)
    client.run_now(stuck.id)
    cluster.start_worker("scheduler")
    cluster.start_worker("execute", concurrency=8)
    cluster.start_worker("analysis", name="analysis-a")
    cluster.start_worker("analysis", name="analysis-b")
    cluster.start_beat()
    try:
        wait_for(lambda: len(runs_of(engine, busy.id)) >= 1, 30, "first run")
        app = Celery(broker=REDIS_URL)
        for _ in range(4):  # duplicate requests on top of what beat enqueues
            app.send_task("cronicorn.analyze", kwargs={"endpoint_id": busy.id}, queue="analysis")
        window_start = utcnow()
        time.sleep(8)
        window = [r for r in runs_of(engine, busy.id) if r.started_at >= window_start]
        failed = wait_for(
            lambda: [s for s in client.list_sessions(limit=50) if s["status"] == "failed"], 20, "failed sessions"
        )
    except AssertionError:
        print(cluster.logs())
        raise
    # A 1 s interval plus a 0.5 s tick: a gap near the model's 3 s delay would mean HTTP calls waited on it.
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in pairwise(window)]
    assert len(window) >= 4 and max(gaps) < 2.5, gaps
    assert model.max_in_flight.get("busy", 0) == 1 and model.max_in_flight.get("stuck", 0) <= 1
    assert {s["endpoint_name"] for s in failed} >= {"stuck"}
    assert client.get_endpoint(busy.id).ai_hint_interval_ms is None  # schedules untouched
