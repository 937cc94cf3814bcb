"""What every benchmark shares: its own Redis, its own PostgreSQL database, the target, results.

Benchmarks never touch the test suite's database or Redis: they use `cronicorn_bench` and a
redis-server they start on a free port (so command counts read from it are theirs alone).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, text

from cronicorn.core.clock import utcnow
from cronicorn.shell.bundled_redis import free_port, start_bundled_redis
from cronicorn.store.engine import make_engine
from tests.cluster import Cluster, wait_for
from tests.services import ensure_postgres_database, reset_schema

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(os.environ.get("CRONICORN_BENCH_RESULTS", Path(__file__).parent / "results"))
BENCH_POSTGRES_URL = os.environ.get(
    "CRONICORN_BENCH_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/cronicorn_bench"
)


def wait_until(predicate: Any, timeout_s: float, what: str) -> None:
    """`wait_for`, counting a failing probe (connection refused: not up yet) as not ready."""

    def probe() -> object:
        try:
            return predicate()
        except Exception:  # noqa: BLE001 - not up yet
            return False

    wait_for(probe, timeout_s, what, poll_s=0.05)


@contextmanager
def own_redis() -> Iterator[str]:
    """A private redis-server (no persistence) for one benchmark, the machine's own if it has
    one; yields its URL."""
    proc, url = start_bundled_redis(Path(tempfile.mkdtemp(prefix="bench-redis-")), binary=shutil.which("redis-server"))
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def target() -> Iterator[str]:
    """The counting HTTP target (bench/target.py) in its own process; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "bench.target", "--port", str(port)], cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{base}/stats", timeout=1).ok, 15, "bench target")
        yield base
    finally:
        proc.terminate()
        proc.wait(10)


def target_stats(base: str, *, reset: bool = False) -> dict[str, Any]:
    stats: dict[str, Any] = requests.get(f"{base}/stats", timeout=10).json()
    if reset:
        requests.get(f"{base}/reset", timeout=10)
    return stats


def bench_engine() -> Engine:
    ensure_postgres_database(BENCH_POSTGRES_URL)
    engine = make_engine(BENCH_POSTGRES_URL)
    reset_schema(engine)
    return engine


def seed_endpoints(
    engine: Engine,
    count: int,
    url: str,
    *,
    interval_ms: int,
    first_at: datetime,
    spread_s: float,
    timeout_ms: int = 5000,
) -> None:
    """`count` endpoints in one active job, next runs spread evenly over `spread_s` from `first_at`.

    Written with one INSERT ... SELECT generate_series, so a million rows take seconds.
    """
    job = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO jobs (id, name, status, created_at, updated_at) VALUES (:id, 'bench', 'active', "
                "now(), now())"
            ),
            {"id": job},
        )
        conn.execute(
            text("""
            INSERT INTO endpoints (id, job_id, name, url, method, headers, baseline_interval_ms, timeout_ms,
                                   max_execution_time_ms, max_response_size_kb, created_at, updated_at, next_run_at)
            SELECT gen_random_uuid()::text, :job, 'e' || i, :url, 'GET', '{}'::json, :interval, :timeout,
                   60000, 100, now(), now(), :first + (i::float8 * :spread / :count) * interval '1 second'
            FROM generate_series(0, :count - 1) AS i
        """),
            {
                "job": job,
                "url": url,
                "interval": interval_ms,
                "timeout": timeout_ms,
                "first": first_at,
                "spread": spread_s,
                "count": count,
            },
        )
        conn.execute(text("ANALYZE endpoints"))


def cluster(database_url: str, redis_url: str, **env: str) -> Cluster:
    return Cluster(
        database_url=database_url,
        redis_url=redis_url,
        log_dir=Path(tempfile.mkdtemp(prefix="bench-")),
        extra_env={"CRONICORN_LOG_LEVEL": "WARNING", **env},
    )


def worker_rss_kb(proc: subprocess.Popen[bytes]) -> int:
    """Resident memory of a worker and its children (prefork children, if any)."""
    pids = [proc.pid]
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total


CPU_GROUPS = (
    ("execute", "-Q execute"),
    ("plain", "bench.plain"),
    ("scheduler", "-Q scheduler"),
    ("beat", " beat"),
    ("target", "bench.target"),
    ("postgres", "postgres"),
    ("redis", "redis-server"),
)


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) used so far by each part of the system, summed over its processes."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {name: 0.0 for name, _ in CPU_GROUPS}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        for name, needle in CPU_GROUPS:
            if needle in cmdline:
                totals[name] += (int(fields[11]) + int(fields[12])) / ticks
                break
    return totals


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kb = int(meminfo.read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 2**20),
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


@dataclass
class Table:
    name: str
    columns: list[str]
    rows: list[dict[str, Any]]

    def show(self) -> str:
        widths = [max(len(c), *(len(_fmt(r.get(c))) for r in self.rows)) if self.rows else len(c) for c in self.columns]
        lines = [
            "| " + " | ".join(c.ljust(w) for c, w in zip(self.columns, widths, strict=True)) + " |",
            "|" + "|".join("-" * (w + 2) for w in widths) + "|",
        ]
        for r in self.rows:
            cells = (_fmt(r.get(c)).ljust(w) for c, w in zip(self.columns, widths, strict=True))
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def save(table: Table, extra: dict[str, Any] | None = None) -> None:
    """Print the table and save it with the machine and the time as bench/results/<name>.json."""
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": table.name,
        "at": datetime.now(UTC).isoformat(),
        "machine": machine(),
        "command": "python -m bench." + table.name + (" " + " ".join(sys.argv[1:]) if sys.argv[1:] else ""),
        "rows": table.rows,
        **(extra or {}),
    }
    (RESULTS / f"{table.name}.json").write_text(json.dumps(payload, indent=2, default=str))
    print(table.show())
    print(f"saved {RESULTS / (table.name + '.json')}")


def soon(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
