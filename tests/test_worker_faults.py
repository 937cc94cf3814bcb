"""Workers outlive their broker: a Redis restart under each execute pool, with calls in progress.

Celery 5.7 gave up on a broker restart while a worker held unacknowledged messages (late acks:
every execute message in progress): `Unrecoverable error: AttributeError("'NoneType' object has
no attribute 'hostname'")`, exit 1, on the thread pool and prefork alike (workers/broker.py says
why). Each test restarts a private redis-server under a real worker while calls are in flight,
then asserts the worker, the scheduler worker and beat are still up, that calls reach the target
again afterwards, and that the worker still answers `celery inspect ping` (the liveness probe of
deploy/: on the gevent pool remote control used to stay dead after the first broker error).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cronicorn.producer.client import Cronicorn
from cronicorn.shell.bundled_redis import free_port, start_bundled_redis
from cronicorn.shell.roles import APP, worker_command
from tests.cluster import Cluster, wait_for
from tests.services import POSTGRES_URL
from tests.targets import TargetServer


def test_redis_urls_use_the_resilient_transport_and_still_read_as_redis() -> None:
    """Flower's broker page and every log line read the broker's scheme: it stays `redis://`."""
    from cronicorn.workers.app import app
    from cronicorn.workers.broker import Transport

    with app.connection("redis://127.0.0.1:6390/3") as conn:
        assert isinstance(conn.transport, Transport)
        assert conn.as_uri().startswith("redis://") and conn.as_uri().endswith("@127.0.0.1:6390/3")


class PrivateRedis:
    """A redis-server of this test's own on a fixed port, so it can be killed and started again."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.proc, self.url = self._start()

    def _start(self) -> tuple[subprocess.Popen[bytes], str]:
        return start_bundled_redis(self.data_dir, self.port, binary=shutil.which("redis-server"))

    def restart(self, down_s: float) -> None:
        """kill -9, stay down `down_s`, start again empty (no persistence: queues and locks are gone)."""
        self.stop()
        time.sleep(down_s)
        self.proc, _ = self._start()

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    yield server
    server.stop()


def in_flight(target: TargetServer) -> int:
    with target._lock:
        return sum(target._in_flight.values())


def start_execute(cluster: Cluster, pool: str) -> subprocess.Popen[bytes]:
    """An execute worker on `pool`, prefork included (which CRONICORN_EXECUTE_POOL does not offer)."""
    argv = worker_command("execute", cluster.settings(), concurrency=4, hostname="execute@test")
    argv[argv.index("--pool") + 1] = pool
    return cluster._spawn("execute", argv)


def pings(cluster: Cluster, node: str) -> bool:
    argv = [sys.executable, "-m", "celery", "-A", APP, "inspect", "ping", "-d", node, "--timeout", "5"]
    return subprocess.run(argv, env=cluster.env, capture_output=True, timeout=60).returncode == 0


@pytest.mark.e2e
@pytest.mark.timeout(180)
@pytest.mark.parametrize("pool", ["threads", "gevent", "prefork"])
def test_a_redis_restart_with_calls_in_progress_leaves_every_worker_running(
    pool: str, pg_engine: Engine, target: TargetServer, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    client = Cronicorn(pg_engine)
    job = client.create_job(name=f"redis-restart-{pool}")
    for i in range(12):
        client.add_endpoint(
            job.id,
            name=f"slow{i}",
            url=target.url(f"/slow?ms=600&i={i}"),
            baseline_interval_ms=1000,
            timeout_ms=3000,
            max_execution_time_ms=3000,
        )
    cluster = Cluster(
        database_url=POSTGRES_URL,
        redis_url=private_redis.url,
        log_dir=tmp_path,
        # Two claims a message: several messages in progress, unacknowledged, when Redis dies.
        extra_env={"CRONICORN_LEASE_GRACE_MS": "2000", "CRONICORN_EXECUTE_BATCH_SIZE": "2"},
    )
    try:
        worker = start_execute(cluster, pool)
        scheduler = cluster.start_worker("scheduler")
        beat = cluster.start_beat()
        for restart in range(2):
            wait_for(lambda: in_flight(target) >= 2, 40, f"calls in progress before restart {restart + 1}")
            private_redis.restart(down_s=2)
            seen = len(target.seen)
            wait_for(lambda: len(target.seen) >= seen + 12, 40, f"calls after restart {restart + 1}")  # noqa: B023
            assert worker.poll() is None, f"the {pool} execute worker exited with {worker.returncode}"
        assert scheduler.poll() is None and beat.poll() is None
        assert wait_for(lambda: pings(cluster, "execute@test"), 30, "the execute worker to answer a ping")
    except AssertionError:
        print(cluster.logs())
        raise
    finally:
        cluster.stop()
    assert "Unrecoverable error" not in (tmp_path / "execute.log").read_text()
