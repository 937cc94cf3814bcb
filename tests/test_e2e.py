"""End to end: real `celery worker` and `celery beat` processes, real Redis, real databases.

Each test is a promise of DESIGN.md seen from outside: the target server counts what it
received, and the database shows what was recorded. The promise tests (no overlap, no duplicate,
nothing lost) also run with RabbitMQ as the broker (`ON_BOTH_BROKERS`); Redis stays the lock service.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
import redis
from celery import Celery
from sqlalchemy import Engine, select

from cronicorn.core.clock import utcnow
from cronicorn.core.settings import Settings
from cronicorn.producer.client import Cronicorn
from cronicorn.store.claims import claim_due
from cronicorn.store.tables import runs
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL, REDIS_URL, rabbitmq_broker
from tests.targets import TargetServer

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgres"])
def e2e_engine(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Engine, str]:
    if request.param == "sqlite":
        engine = request.getfixturevalue("sqlite_engine")
        return engine, engine.url.render_as_string(hide_password=False)
    return request.getfixturevalue("pg_engine"), POSTGRES_URL


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """The broker's URL: Redis, unless the test runs on both brokers (`ON_BOTH_BROKERS`)."""
    if getattr(request, "param", "redis") == "rabbitmq":
        return rabbitmq_broker()
    return REDIS_URL


# RabbitMQ on PostgreSQL only: the broker is what differs, and each run costs a cluster's start.
ON_BOTH_BROKERS = pytest.mark.parametrize(
    ("e2e_engine", "broker"),
    [("sqlite", "redis"), ("postgres", "redis"), ("postgres", "rabbitmq")],
    indirect=True,
    ids=["sqlite-redis", "postgres-redis", "postgres-rabbitmq"],
)


@pytest.fixture
def cluster(e2e_engine: tuple[Engine, str], broker: str, redis_conn: redis.Redis, tmp_path: Path) -> Iterator[Cluster]:
    _engine, url = e2e_engine
    c = Cluster(database_url=url, redis_url=REDIS_URL, log_dir=tmp_path, extra_env={"CRONICORN_BROKER_URL": broker})
    yield c
    c.stop()


@pytest.fixture
def client(e2e_engine: tuple[Engine, str]) -> Cronicorn:
    return Cronicorn(e2e_engine[0])


def run_list(engine: Engine, endpoint_id: str) -> list:  # type: ignore[type-arg]
    with engine.connect() as conn:
        return list(conn.execute(select(runs).where(runs.c.endpoint_id == endpoint_id).order_by(runs.c.started_at)))


def finished(engine: Engine, endpoint_id: str, n: int) -> object:
    rows = [r for r in run_list(engine, endpoint_id) if r.status != "running"]
    return rows if len(rows) >= n else None


def test_endpoints_run_on_schedule_on_workers_and_every_run_is_stored(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    engine = e2e_engine[0]
    job = client.create_job(name="e2e")
    fast = client.add_endpoint(job.id, name="fast", url=target.url("/ok"), baseline_interval_ms=1000)
    post = client.add_endpoint(
        job.id, name="post", url=target.url("/echo"), method="POST", body={"n": 1}, baseline_interval_ms=1000
    )
    failing = client.add_endpoint(job.id, name="failing", url=target.url("/status/503"), baseline_interval_ms=1000)
    cluster.start_all()
    try:
        wait_for(lambda: finished(engine, fast.id, 3), 40, "three runs of the fast endpoint")
        wait_for(lambda: finished(engine, post.id, 2), 20, "two runs of the POST endpoint")
        wait_for(lambda: finished(engine, failing.id, 2), 30, "two runs of the failing endpoint")
    except AssertionError:
        print(cluster.logs())
        raise
    ok_runs = finished(engine, fast.id, 3)
    assert all(r.status == "success" and r.status_code == 200 for r in ok_runs)  # type: ignore[attr-defined]
    assert all(r.response_body is not None and r.source for r in ok_runs)  # type: ignore[attr-defined]
    post_run = finished(engine, post.id, 1)[0]  # type: ignore[index]
    assert post_run.response_body["body"] == {"n": 1}
    bad = finished(engine, failing.id, 2)
    assert all(r.status == "failed" and r.error_kind == "http_status" for r in bad)  # type: ignore[attr-defined]
    # The failing endpoint backs off: failures counted, next run pushed out by 2^failures.
    assert client.get_endpoint(failing.id).failure_count >= 2
    # Runs of one endpoint start at least an interval apart (the governor planned each one).
    starts = [r.started_at for r in finished(engine, fast.id, 3)]  # type: ignore[attr-defined]
    assert all((b - a).total_seconds() >= 0.9 for a, b in pairwise(starts))


@ON_BOTH_BROKERS
def test_two_beats_and_two_scheduler_workers_never_call_one_slot_twice(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    engine = e2e_engine[0]
    job = client.create_job(name="dupes")
    eps = [
        client.add_endpoint(job.id, name=f"ep{i}", url=target.url("/ok"), baseline_interval_ms=1000) for i in range(10)
    ]
    cluster.start_worker("scheduler", name="scheduler-a")
    cluster.start_worker("scheduler", name="scheduler-b")
    cluster.start_worker("execute", name="execute-a", concurrency=8)
    cluster.start_worker("execute", name="execute-b", concurrency=8)
    cluster.start_beat("beat-a")
    cluster.start_beat("beat-b")
    try:
        for ep in eps:
            wait_for(lambda ep=ep: finished(engine, ep.id, 3), 60, f"three runs of {ep.name}")
    except AssertionError:
        print(cluster.logs())
        raise
    keys = Counter(target.idempotency_keys())
    assert keys and max(keys.values()) == 1, keys.most_common(3)
    assert all(target.max_in_flight(key_prefix=ep.id) <= 1 for ep in eps)


@ON_BOTH_BROKERS
def test_a_duplicated_execute_message_makes_one_http_call(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str], broker: str
) -> None:
    engine = e2e_engine[0]
    job = client.create_job(name="dup-message")
    ep = client.add_endpoint(job.id, name="slow", url=target.url("/slow?ms=1500"), baseline_interval_ms=3_600_000)
    client.run_now(ep.id)
    # Claim it here, as a tick would, then deliver its execute message three times.
    [claim] = claim_due(engine, utcnow(), limit=10)
    app = Celery(broker=broker)
    # The same claim in two batch messages and a single one (the form sent before batches).
    for _ in range(2):
        app.send_task(
            "cronicorn.execute_batch",
            kwargs={"claims": [{"endpoint_id": ep.id, "fence": claim.fence}]},
            queue="execute",
        )
    app.send_task("cronicorn.execute", kwargs={"endpoint_id": ep.id, "fence": claim.fence}, queue="execute")
    cluster.start_worker("execute", concurrency=8)
    try:
        wait_for(lambda: finished(engine, ep.id, 1), 30, "the run to finish")
        time.sleep(2)  # let any duplicate have its chance
    except AssertionError:
        print(cluster.logs())
        raise
    assert len(target.requests_to("/slow")) == 1
    assert len(run_list(engine, ep.id)) == 1


@ON_BOTH_BROKERS
def test_a_worker_killed_mid_call_leaves_an_abandoned_attempt_and_the_endpoint_runs_again(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    engine = e2e_engine[0]
    cluster.extra_env["CRONICORN_LEASE_GRACE_MS"] = "1000"
    job = client.create_job(name="crash")
    ep = client.add_endpoint(
        job.id,
        name="slow",
        url=target.url("/slow?ms=3000"),
        baseline_interval_ms=3_600_000,
        timeout_ms=4000,
        max_execution_time_ms=4000,
    )
    client.run_now(ep.id)
    cluster.start_worker("scheduler")
    cluster.start_worker("execute", concurrency=4)
    cluster.start_beat()
    try:
        wait_for(lambda: target.requests_to("/slow"), 30, "the first call to reach the target")
        cluster.kill("execute")  # kill -9 mid-call
        cluster.start_worker("execute", name="execute-2", concurrency=4)
        rows = wait_for(lambda: [r for r in run_list(engine, ep.id) if r.status == "success"], 40, "a successful retry")
    except AssertionError:
        print(cluster.logs())
        raise
    all_runs = run_list(engine, ep.id)
    first, retry = all_runs[0], rows[0]  # type: ignore[index]
    assert first.status == "abandoned" and first.attempt == 1 and "abandoned" in first.error_message
    assert retry.attempt == 2 and retry.scheduled_at == first.scheduled_at
    # Both attempts carried the slot's Idempotency-Key, so the receiver can tell them apart from new work.
    keys = {r.headers.get("Idempotency-Key") for r in target.requests_to("/slow")}
    assert len(keys) == 1


def test_run_now_and_an_interval_edit_move_the_next_run_at_once(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    engine = e2e_engine[0]
    job = client.create_job(name="changes")
    ep = client.add_endpoint(job.id, name="hourly", url=target.url("/ok"), baseline_interval_ms=3_600_000)
    client.run_now(ep.id)
    cluster.start_all()
    try:
        wait_for(lambda: finished(engine, ep.id, 1), 40, "the first run")
        time.sleep(1)
        assert len(finished(engine, ep.id, 1)) == 1  # type: ignore[arg-type]  # next one is an hour away
        client.run_now(ep.id)
        wait_for(lambda: finished(engine, ep.id, 2), 15, "the run-now run")
        client.update_endpoint(ep.id, baseline_interval_ms=1000)
        wait_for(lambda: finished(engine, ep.id, 4), 15, "runs on the new interval")
    except AssertionError:
        print(cluster.logs())
        raise
    sources = [r.source for r in finished(engine, ep.id, 4)]  # type: ignore[attr-defined]
    assert sources[1] == "manual"


@ON_BOTH_BROKERS
def test_a_slow_endpoint_spammed_with_run_now_never_overlaps(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    engine = e2e_engine[0]
    job = client.create_job(name="overlap")
    ep = client.add_endpoint(
        job.id,
        name="slow",
        url=target.url("/slow?ms=1500"),
        baseline_interval_ms=1000,
        timeout_ms=5000,
        max_execution_time_ms=5000,
    )
    client.run_now(ep.id)
    cluster.start_worker("scheduler")
    cluster.start_worker("execute", name="execute-a", concurrency=4)
    cluster.start_worker("execute", name="execute-b", concurrency=4)
    cluster.start_beat()
    try:
        wait_for(lambda: target.requests_to("/slow"), 30, "the first call")
        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:  # a person hammering "run now" while it runs
            client.run_now(ep.id)
            time.sleep(0.2)
        wait_for(lambda: finished(engine, ep.id, 3), 20, "three runs")
    except AssertionError:
        print(cluster.logs())
        raise
    assert target.max_in_flight(key_prefix=ep.id) == 1
    starts = [r.started_at for r in finished(engine, ep.id, 3)]  # type: ignore[attr-defined]
    assert all((b - a).total_seconds() >= 1.4 for a, b in pairwise(starts))  # each began after the last ended


def test_a_redis_restart_loses_nothing(
    client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str], tmp_path: Path
) -> None:
    from cronicorn.shell.bundled_redis import free_port, start_bundled_redis

    engine, url = e2e_engine
    port = free_port()
    redis_proc, redis_url = start_bundled_redis(tmp_path / "redis", port)
    c = Cluster(database_url=url, redis_url=redis_url, log_dir=tmp_path, extra_env={"CRONICORN_LEASE_GRACE_MS": "1000"})
    job = client.create_job(name="redis-restart")
    ep = client.add_endpoint(
        job.id, name="ep", url=target.url("/ok"), baseline_interval_ms=1000, timeout_ms=2000, max_execution_time_ms=2000
    )
    client.run_now(ep.id)
    try:
        c.start_all()
        wait_for(lambda: finished(engine, ep.id, 2), 40, "runs before the restart")
        redis_proc.kill()  # Redis dies: queued messages and locks are gone
        redis_proc.wait()
        time.sleep(2)
        restarted_at = utcnow()
        redis_proc, _ = start_bundled_redis(tmp_path / "redis", port)
        wait_for(
            lambda: sum(r.status == "success" and r.started_at > restarted_at for r in run_list(engine, ep.id)) >= 3,
            60,
            "successful runs after the restart",
        )
    except AssertionError:
        print(c.logs())
        raise
    finally:
        c.stop()
        redis_proc.kill()
    # Whatever was in flight when Redis died is either finished or recorded as abandoned.
    assert all(r.status in ("success", "abandoned", "running") for r in run_list(engine, ep.id))


def test_sigterm_to_an_execute_worker_mid_call_lets_the_call_finish_and_records_it(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    import os
    import signal

    engine = e2e_engine[0]
    job = client.create_job(name="graceful")
    ep = client.add_endpoint(
        job.id,
        name="slow",
        url=target.url("/slow?ms=2500"),
        baseline_interval_ms=3_600_000,
        timeout_ms=10_000,
        max_execution_time_ms=10_000,
    )
    client.run_now(ep.id)
    cluster.start_worker("scheduler")
    worker = cluster.start_worker("execute", concurrency=4)
    cluster.start_beat()
    try:
        wait_for(lambda: target.requests_to("/slow"), 30, "the call to be in flight")
        os.killpg(worker.pid, signal.SIGTERM)  # what Kubernetes or docker stop sends
        assert worker.wait(30) == 0
        rows = run_list(engine, ep.id)
    except AssertionError:
        print(cluster.logs())
        raise
    assert [(r.status, r.attempt, r.status_code) for r in rows] == [("success", 1, 200)]
    assert client.get_endpoint(ep.id).next_run_source == "baseline-interval"


def test_a_ticks_claims_travel_in_batches_and_each_runs_once(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str], redis_conn: redis.Redis
) -> None:
    import base64
    import json

    engine = e2e_engine[0]
    cluster.extra_env["CRONICORN_EXECUTE_BATCH_SIZE"] = "10"
    job = client.create_job(name="batches")
    eps = [
        client.add_endpoint(job.id, name=f"b{i}", url=target.url(f"/ok?b={i}"), baseline_interval_ms=3_600_000)
        for i in range(25)
    ]
    for ep in eps:
        client.run_now(ep.id)
    cluster.start_worker("scheduler")
    cluster.start_beat()
    try:
        wait_for(lambda: redis_conn.llen("execute") >= 3, 20, "the tick's messages")
        time.sleep(1)  # later ticks find nothing due: every endpoint is claimed
        messages = [json.loads(m) for m in redis_conn.lrange("execute", 0, -1)]
        assert {m["headers"]["task"] for m in messages} == {"cronicorn.execute_batch"}
        sizes = sorted(len(json.loads(base64.b64decode(m["body"]))[1]["claims"]) for m in messages)
        assert sizes == [5, 10, 10]
        cluster.start_worker("execute", concurrency=2)
        wait_for(lambda: all(finished(engine, ep.id, 1) for ep in eps), 30, "every endpoint's run")
        time.sleep(1)
    except AssertionError:
        print(cluster.logs())
        raise
    assert all(len(run_list(engine, ep.id)) == 1 for ep in eps)
    assert sorted(Counter(s.path for s in target.seen).values()) == [1] * 25


def test_an_execute_worker_on_the_gevent_pool_runs_endpoints_on_postgres(
    pg_engine: Engine, redis_conn: redis.Redis, target: TargetServer, tmp_path: Path
) -> None:
    """gevent with psycopg2 made cooperative (psycogreen): calls and database waits interleave."""
    client = Cronicorn(pg_engine)
    job = client.create_job(name="green")
    eps = [
        client.add_endpoint(job.id, name=f"g{i}", url=target.url("/slow?ms=300"), baseline_interval_ms=1000)
        for i in range(6)
    ]
    cluster = Cluster(
        database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=tmp_path, extra_env={"CRONICORN_EXECUTE_POOL": "gevent"}
    )
    try:
        cluster.start_worker("scheduler")
        cluster.start_worker("execute", concurrency=20)
        cluster.start_beat()
        wait_for(lambda: all(finished(pg_engine, ep.id, 3) for ep in eps), 40, "three runs of every endpoint")
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
    for ep in eps:
        assert {r.status for r in run_list(pg_engine, ep.id)} <= {"success", "running"}
    assert max(target.max_in_flight(ep.id) for ep in eps) == 1  # never two calls of one endpoint at once
    log = (tmp_path / "execute.log").read_text()
    assert "psycopg2 waits cooperatively" in log
    # The real pool size (20, not the setting's 8) x the batch size.
    assert f"up to {20 * Settings().execute_batch_size} side by side" in log


def test_a_batch_with_a_failed_call_ends_as_failure_in_flower_and_is_not_redelivered(
    cluster: Cluster, client: Cronicorn, target: TargetServer, e2e_engine: tuple[Engine, str]
) -> None:
    import threading

    engine = e2e_engine[0]
    events: list[dict[str, object]] = []
    app = Celery(broker=REDIS_URL)
    ready = threading.Event()

    def capture() -> None:
        with app.connection() as conn:
            receiver = app.events.Receiver(conn, handlers={"*": events.append})
            capturing[0] = receiver
            ready.set()
            receiver.capture(limit=None, timeout=None, wakeup=False)

    capturing: list[object] = [None]
    threading.Thread(target=capture, daemon=True).start()
    ready.wait(10)
    # Given one failing and one healthy endpoint, each due once
    job = client.create_job(name="flower")
    bad = client.add_endpoint(job.id, name="broken", url=target.url("/status/503"), baseline_interval_ms=3_600_000)
    good = client.add_endpoint(job.id, name="fine", url=target.url("/ok"), baseline_interval_ms=3_600_000)
    client.run_now(bad.id)
    client.run_now(good.id)
    cluster.extra_env["CRONICORN_EXECUTE_BATCH_SIZE"] = "1"
    cluster.start_all()
    try:
        wait_for(lambda: finished(engine, bad.id, 1) and finished(engine, good.id, 1), 60, "both runs")

        def batch_events(kind: str) -> list[dict[str, object]]:
            names = {e["uuid"]: e.get("name") for e in events if e["type"] == "task-received"}
            return [e for e in events if e["type"] == kind and names.get(e["uuid"]) == "cronicorn.execute_batch"]

        # Then its batch is a FAILURE naming the endpoint, the healthy one's a success
        failed = wait_for(lambda: batch_events("task-failed"), 20, "a task-failed event for the batch")
        assert "CallsFailed" in str(failed[0]["exception"]) and "broken (failed)" in str(failed[0]["exception"])  # type: ignore[index]
        # Events arrive one by one, in the order the tasks ended (the healthy one may end after): wait for it.
        wait_for(lambda: batch_events("task-succeeded"), 20, "a task-succeeded event for the healthy batch")
        time.sleep(3)  # a redelivery would have its chance
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        if capturing[0] is not None:
            capturing[0].should_stop = True  # type: ignore[attr-defined]
    # And the failed batch was acknowledged: one call, one run, no retry by Celery
    assert len(target.requests_to("/status/503")) == 1 and len(run_list(engine, bad.id)) == 1
    assert not [e for e in events if e["type"] in ("task-retried", "task-rejected")]
