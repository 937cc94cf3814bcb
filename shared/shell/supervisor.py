"""A small process supervisor for `cronicorn up`: start roles, restart the ones that die, stop cleanly."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cronicorn.shell.orphans import die_with_parent

log = logging.getLogger(__name__)


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0


@dataclass
class Supervisor:
    env: dict[str, str]
    log_dir: Path | None = None  # None: children write to our terminal
    children: list[Child] = field(default_factory=list)
    stopping: bool = False

    def add(self, name: str, argv: list[str]) -> None:
        self.children.append(Child(name, argv))

    def start_all(self) -> None:
        for child in self.children:
            self._start(child)

    def _start(self, child: Child) -> None:
        # A session of its own: Ctrl-C reaches only us, and we stop children in order. It dies with us
        # (even by kill -9) and, unless verbose, writes to its own log file in the home.
        out: Any = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{child.name}.log", "ab")
        try:
            child.proc = subprocess.Popen(
                child.argv,
                env=self.env,
                start_new_session=True,
                preexec_fn=die_with_parent(),
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
            )
        finally:
            if out is not None:
                out.close()
        child.started_at = time.monotonic()
        log.info("started %s (pid %s)", child.name, child.proc.pid)

    def request_stop(self, *_: object) -> None:
        """Signal handler: only sets a flag; the loop does the work."""
        self.stopping = True

    def run(self, *, on_idle: Callable[[], None] | None = None, poll_s: float = 1.0) -> None:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        self.start_all()
        try:
            while not self.stopping:
                self._restart_dead()
                if on_idle is not None:
                    on_idle()
                time.sleep(poll_s)
        finally:
            self.stop_all()

    def _restart_dead(self) -> None:
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None and not self.stopping:
                # Back off a child that dies right after starting, instead of spinning.
                if time.monotonic() - child.started_at < 5 and child.restarts >= 3:
                    continue
                where = f" (see {self.log_dir / (child.name + '.log')})" if self.log_dir else ""
                print(f"{child.name} exited with {child.proc.returncode}; restarting{where}", flush=True)
                child.restarts += 1
                self._start(child)

    def stop_all(self, timeout_s: float = 30.0) -> None:
        """SIGTERM everyone (Celery's warm shutdown lets in-flight calls finish), then SIGKILL."""
        self.stopping = True
        for child in reversed(self.children):
            if child.proc is not None and child.proc.poll() is None:
                os.killpg(child.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            if child.proc is None:
                continue
            try:
                child.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", child.name)
                os.killpg(child.proc.pid, signal.SIGKILL)
                child.proc.wait()
        log.info("all roles stopped")
