"""Worker start-up checks: no database, an old schema or a visibility timeout shorter than the
longest lease stops the worker before it consumes anything, with a clear message and exit code."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from cronicorn.core.settings import Settings
from cronicorn.shell.bundled_redis import free_port
from cronicorn.shell.roles import worker_command
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.workers.checks import STARTUP_CHECK_FAILED, StartupError, check_worker_start
from tests.cluster import ROOT
from tests.factories import make_endpoint


def test_a_visibility_timeout_below_the_longest_lease_stops_the_worker(tmp_path: Path, now: datetime) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    upgrade(engine)
    make_endpoint(engine, now, timeout_ms=600_000, max_execution_time_ms=900_000)
    with pytest.raises(StartupError, match="CRONICORN_VISIBILITY_TIMEOUT_S=600"):
        check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url, "CRONICORN_VISIBILITY_TIMEOUT_S": "600"}))
    check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url, "CRONICORN_VISIBILITY_TIMEOUT_S": "7200"}))


def test_a_rabbitmq_consumer_timeout_below_the_longest_lease_stops_the_worker(tmp_path: Path, now: datetime) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    upgrade(engine)
    make_endpoint(engine, now, timeout_ms=600_000, max_execution_time_ms=900_000)
    env = {"CRONICORN_DATABASE_URL": url, "CRONICORN_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"}
    with pytest.raises(StartupError, match="CRONICORN_RABBITMQ_CONSUMER_TIMEOUT_S=600"):
        check_worker_start(Settings.from_env({**env, "CRONICORN_RABBITMQ_CONSUMER_TIMEOUT_S": "600"}))
    # The Redis visibility timeout plays no part with RabbitMQ: RabbitMQ's default 30 minutes cover this lease.
    check_worker_start(Settings.from_env({**env, "CRONICORN_VISIBILITY_TIMEOUT_S": "60"}))


def test_an_old_schema_stops_the_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(StartupError, match="cronicorn migrate"):
        check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url}))


def test_an_unreachable_database_stops_the_worker_and_its_password_stays_out_of_the_message() -> None:
    url = f"postgresql+psycopg2://cronicorn:s3cret@127.0.0.1:{free_port()}/cronicorn"
    with pytest.raises(StartupError, match="cannot reach the database") as caught:
        check_worker_start(Settings.from_env({"CRONICORN_DATABASE_URL": url}))
    assert "s3cret" not in str(caught.value) and "cronicorn:***@127.0.0.1" in str(caught.value)


def start_worker(
    role: str, database_url: str, *, pool: str = "threads", **env: str
) -> subprocess.CompletedProcess[str]:
    """A real `celery worker` of `role`; its broker is a port nobody listens on: the checks come first."""
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "CRONICORN_DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "CRONICORN_EXECUTE_POOL": pool,
        **env,
    }
    argv = worker_command(role, Settings.from_env(full_env), concurrency=2, hostname=f"{role}@checks")
    return subprocess.run(argv, env=full_env, cwd=ROOT, capture_output=True, text=True, timeout=90)


@pytest.mark.e2e
@pytest.mark.parametrize(("role", "pool"), [("execute", "threads"), ("execute", "gevent"), ("scheduler", "threads")])
def test_a_worker_without_its_database_refuses_to_start(role: str, pool: str) -> None:
    result = start_worker(role, f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/gone", pool=pool)
    assert result.returncode == STARTUP_CHECK_FAILED, result.stderr[-3000:]
    assert f"worker {role}@checks refused to start: cannot reach the database" in result.stderr
    assert "ready." not in result.stderr  # it never consumed anything


@pytest.mark.e2e
def test_a_worker_on_an_old_schema_refuses_to_start(tmp_path: Path) -> None:
    result = start_worker("execute", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == STARTUP_CHECK_FAILED, result.stderr[-3000:]
    assert "refused to start: database schema is not at the newest migration" in result.stderr


@pytest.mark.e2e
def test_a_worker_with_a_too_short_visibility_timeout_refuses_to_start(tmp_path: Path, now: datetime) -> None:
    url = f"sqlite:///{tmp_path / 'c.db'}"
    engine = make_engine(url)
    upgrade(engine)
    make_endpoint(engine, now, timeout_ms=600_000, max_execution_time_ms=900_000)
    result = start_worker("execute", url, CRONICORN_VISIBILITY_TIMEOUT_S="600")
    assert result.returncode == STARTUP_CHECK_FAILED, result.stderr[-3000:]
    assert "refused to start: CRONICORN_VISIBILITY_TIMEOUT_S=600 is shorter than the longest endpoint lease" in (
        result.stderr
    )
