"""`cronicorn up` as a good citizen: the other commands find it, a second one is refused, its children die with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from cronicorn.shell.bundled_redis import free_port
from cronicorn.shell.up_state import AlreadyRunning, UpLock, UpState, running_up
from tests.cluster import ROOT, wait_for

pytestmark = pytest.mark.e2e


@dataclass
class Up:
    proc: subprocess.Popen[str]
    home: Path
    env: dict[str, str]
    api: str
    flower: str

    def output(self) -> str:
        return (self.home / "up.log").read_text()

    def cli(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "cronicorn.shell.cli", *argv]
        return subprocess.run(command, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("REDIS_URL", "CRONICORN_DATABASE_URL", "CRONICORN_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update({"CRONICORN_HOME": str(home), "PYTHONPATH": str(ROOT)})
    env.pop("OPENAI_API_KEY", None)
    return env


def _get(url: str) -> requests.Response | None:
    try:
        return requests.get(url, timeout=2)
    except requests.RequestException:
        return None


@contextmanager
def _up_running(home: Path) -> Iterator[Up]:
    api_port, flower_port = free_port(), free_port()
    env = _env(home)
    log = open(home / "up.log", "w")
    argv = ["up", "--demo", "--api-port", str(api_port), "--flower-port", str(flower_port)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "cronicorn.shell.cli", *argv],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    running = Up(proc, home, env, f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{flower_port}")
    try:
        wait_for(lambda: running.output().count(" success ") >= 2, 90, "demo runs in the output")
    except AssertionError:
        proc.kill()
        print(running.output())
        raise
    yield running
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """One `up` shared by the tests that only look at it (starting one takes about 11 s)."""
    with _up_running(tmp_path_factory.mktemp("up")) as running:
        yield running


@pytest.fixture
def own_up(tmp_path: Path) -> Iterator[Up]:
    """An `up` of the test's own, for a test that kills it."""
    with _up_running(tmp_path) as running:
        yield running


def test_up_says_where_its_services_are_and_the_planners_state_in_its_first_lines(up: Up) -> None:
    head = up.output().splitlines()[:6]
    assert any(up.flower in line for line in head) and any(up.api in line for line in head)
    assert any("planner   off: OPENAI_API_KEY is not set" in line for line in head)
    # Quiet by default: run lines, not Celery's banners (they are in the home's logs/)
    assert "[queues]" not in up.output() and "celery@" not in up.output()
    assert "[queues]" in (up.home / "logs" / "execute.log").read_text()
    state = json.loads((up.home / "up.json").read_text())
    assert state["pid"] == up.proc.pid and state["redis_url"].startswith("redis://127.0.0.1:")


def test_health_finds_the_bundled_redis_and_agrees_with_the_api(up: Up) -> None:
    def both_ok() -> bool:
        api = _get(up.api + "/api/health")
        return api is not None and api.status_code == 200 and up.cli("health").returncode == 0

    wait_for(both_ok, 30, "cronicorn health and /api/health both ok", poll_s=1)
    report = json.loads(up.cli("health").stdout)
    assert report["checks"]["redis"] == "ok" and report["status"] == "ok"


def test_flower_started_on_its_own_finds_the_bundled_broker_and_its_workers(up: Up) -> None:
    port = free_port()
    command = [sys.executable, "-m", "cronicorn.shell.cli", "flower", "--port", str(port)]
    flower = subprocess.Popen(command, env=up.env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:

        def workers_seen() -> bool:
            response = _get(f"http://127.0.0.1:{port}/metrics")  # Flower's API needs auth; its metrics do not
            return response is not None and 'flower_worker_online{worker="execute@embedded"} 1.0' in response.text

        wait_for(workers_seen, 60, "Flower to list the workers of `up`", poll_s=1)
    finally:
        flower.terminate()
        flower.wait(20)


def test_metrics_under_up_add_up_every_processs_runs(up: Up) -> None:
    def runs_counted() -> float:
        response = _get(up.api + "/metrics")
        lines = response.text.splitlines() if response is not None else []
        return sum(float(x.rsplit(" ", 1)[1]) for x in lines if x.startswith("cronicorn_runs_total{"))

    counted = wait_for(runs_counted, 30, "runs counted in /metrics")
    assert isinstance(counted, float) and counted >= 2
    text = requests.get(up.api + "/metrics", timeout=5).text
    assert "cronicorn_dispatch_lag_seconds_count 0.0" not in text


def test_a_second_up_on_the_same_home_is_refused_and_the_first_keeps_running(up: Up) -> None:
    second = up.cli("up", "--api-port", str(free_port()), "--flower-port", str(free_port()), timeout=30)
    assert second.returncode == 1
    assert "already running" in second.stdout and f"pid {up.proc.pid}" in second.stdout
    assert up.proc.poll() is None
    response = _get(up.api + "/api/health")
    assert response is not None and response.status_code in (200, 503)


def test_the_roles_die_with_a_killed_supervisor(own_up: Up) -> None:
    up = own_up
    children = subprocess.run(["pgrep", "-P", str(up.proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 6  # Redis, beat, three workers, API, Flower
    up.proc.kill()
    up.proc.wait(5)

    def all_gone() -> bool:
        return not any(Path(f"/proc/{pid}").exists() and _not_zombie(pid) for pid in children)

    wait_for(all_gone, 40, "every child of the killed supervisor to exit")
    assert _get(up.api + "/api/health") is None
    assert running_up(up.home) is None  # the lock went with it: a new `up` may start


def _not_zombie(pid: str) -> bool:
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return False


def test_the_state_file_is_locked_while_up_runs_and_stale_after(tmp_path: Path) -> None:
    lock = UpLock(tmp_path)
    state = UpState(
        pid=os.getpid(),
        redis_url="redis://127.0.0.1:1/0",
        database_url="sqlite://",
        api_url=None,
        flower_url=None,
        metrics_dir=None,
    )
    lock.publish(state)
    assert running_up(tmp_path) == state
    with pytest.raises(AlreadyRunning, match=f"pid {os.getpid()}"):
        UpLock(tmp_path)
    lock.release()
    assert running_up(tmp_path) is None
    UpLock(tmp_path).release()


def test_a_failed_run_line_says_its_error_kind_and_message() -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from cronicorn.shell.run_lines import run_line

    row = SimpleNamespace(
        finished_at=datetime(2026, 3, 2, 12, 0, 1, tzinfo=UTC),
        job="billing",
        name="sync",
        status="failed",
        status_code=503,
        duration_ms=12,
        error_kind="http_status",
        error_message="HTTP 503 Service\nUnavailable",
        source="baseline-interval",
    )
    assert run_line(row) == (
        "12:00:01 billing/sync         failed   503    12 ms"
        "  http_status: HTTP 503 Service Unavailable  (baseline-interval)"
    )


def test_up_refuses_a_port_already_in_use_naming_it(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        command = [sys.executable, "-m", "cronicorn.shell.cli", "up", "--api-port", str(port), "--flower-port", "0"]
        result = subprocess.run(command, env=_env(tmp_path), cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and f"API port {port} already in use" in result.stdout
    assert running_up(tmp_path) is None  # it let go of the home


def test_up_verbose_prints_celerys_logs(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "cronicorn.shell.cli", "up", "--verbose", "--api-port", "0", "--flower-port", "0"]
    log = open(tmp_path / "up.log", "w")
    proc = subprocess.Popen(command, env=_env(tmp_path), cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: "[queues]" in (tmp_path / "up.log").read_text(), 60, "Celery's banner in the output")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(60) == 0
    assert not (tmp_path / "logs").exists()
