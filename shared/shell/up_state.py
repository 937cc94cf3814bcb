"""Where a running `cronicorn up` keeps its services: a state file in the home, locked while it runs.

`up` holds an exclusive lock on the file for as long as it lives, so a second `up` on the same home
is refused at once, and a file left by an `up` that was killed is seen as stale (no lock held). The
other commands (`health`, `flower`, `worker`, `endpoints ...`) read it to find the bundled Redis.
"""

from __future__ import annotations

import fcntl
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_FILE = "up.json"


class AlreadyRunning(RuntimeError):
    """Another `cronicorn up` holds this home."""


@dataclass(frozen=True)
class UpState:
    pid: int
    redis_url: str | None
    database_url: str
    api_url: str | None
    flower_url: str | None
    metrics_dir: str | None


def state_path(home: Path) -> Path:
    return home / STATE_FILE


class UpLock:
    """The exclusive lock of a running `up` on its home's state file; `publish` writes where things are."""

    def __init__(self, home: Path) -> None:
        home.mkdir(parents=True, exist_ok=True)
        self.path = state_path(home)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            running = _parse(os.read(self.fd, 65_536))
            os.close(self.fd)
            where = f" (pid {running.pid}, REST API {running.api_url or 'off'})" if running else ""
            raise AlreadyRunning(
                f"cronicorn up is already running on {home}{where}; stop it first, "
                "or set CRONICORN_HOME to another folder for a second one"
            ) from None
        os.ftruncate(self.fd, 0)

    def publish(self, state: UpState) -> None:
        data = json.dumps(asdict(state), indent=2).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)

    def release(self) -> None:
        # Emptied, not removed: removing a locked file would let a second `up` lock a new one meanwhile.
        os.ftruncate(self.fd, 0)
        os.close(self.fd)


def _parse(raw: bytes) -> UpState | None:
    try:
        return UpState(**json.loads(raw))
    except (ValueError, TypeError):
        return None


def running_up(home: Path) -> UpState | None:
    """The state of the `up` running on `home`, or None (none ever ran, or it is gone)."""
    try:
        fd = os.open(state_path(home), os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _parse(os.read(fd, 65_536))  # locked: its `up` is alive
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None  # nobody holds it: what it says is stale
    finally:
        os.close(fd)
