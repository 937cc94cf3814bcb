"""Real Celery workers and beat as subprocesses, against real Redis and a real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cronicorn.core.settings import Settings
from cronicorn.shell.roles import beat_command, worker_command

ROOT = Path(__file__).resolve().parents[1]


def wait_for(predicate: Callable[[], object], timeout_s: float, what: str, poll_s: float = 0.1) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        time.sleep(poll_s)


@dataclass
class Cluster:
    """Start roles with `start_*`; `stop()` ends them all (SIGTERM, then SIGKILL)."""

    database_url: str
    redis_url: str
    log_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "CRONICORN_DATABASE_URL": self.database_url,
                "REDIS_URL": self.redis_url,
                "CRONICORN_SSRF_ALLOW": "127.0.0.0/8,::1/128",
                "CRONICORN_TICK_INTERVAL_S": "0.5",
                "CRONICORN_SWEEP_INTERVAL_S": "2",
                "CRONICORN_LOG_LEVEL": "INFO",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.extra_env)
        return env

    def settings(self) -> Settings:
        return Settings.from_env(self.env)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "wb")
        proc = subprocess.Popen(
            argv,
            env={**self.env, **(env or {})},
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def start_worker(
        self, role: str, name: str | None = None, concurrency: int | None = None, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        name = name or role
        argv = worker_command(role, self.settings(), concurrency=concurrency, hostname=f"{name}@test")
        return self._spawn(name, argv, env)

    def start_beat(self, name: str = "beat") -> subprocess.Popen[bytes]:
        return self._spawn(name, beat_command(self.settings()))

    def start_all(self, *, analysis: bool = False) -> None:
        self.start_worker("scheduler")
        self.start_worker("execute", concurrency=8)
        if analysis:
            self.start_worker("analysis")
        self.start_beat()

    def kill(self, name: str) -> None:
        """kill -9: the process gets no chance to clean up or hand messages back."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def logs(self) -> str:
        parts = []
        for path in sorted(self.log_dir.glob("*.log")):
            parts.append(f"===== {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs.clear()


def python() -> str:
    return sys.executable
