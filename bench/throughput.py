"""Executions per second: the whole pipeline against plain Celery, in one run, on one machine.

    python -m bench.throughput [--window 15] [--target fast|slow|both] [--pools threads,gevent] [--processes 1,2]

For each target (fast: answers at once; slow: answers after 200 ms), pool and number of execute
worker processes, two systems run in turn against the same counting target:
- **plain**: `bench/plain.py`, one `requests` GET per Celery task, a feeder keeping the queue full;
- **cronicorn**: beat -> tick -> execute -> stored run -> next plan, on PostgreSQL, with N
  endpoints on a 1 s interval, more than the workers can run, so work is always due.
Executions per second are counted by the target (the same meter for both); `inflight/proc` is
the time-averaged number of calls the target held open, per worker process. The target alone
is measured first, to show it is not the bottleneck.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
import requests

from bench.harness import (
    ROOT,
    Table,
    bench_engine,
    cluster,
    cpu_seconds,
    own_redis,
    save,
    seed_endpoints,
    soon,
    target,
    target_stats,
)
from cronicorn.core.clock import utcnow
from tests.cluster import wait_for

# The same Celery pool size for both systems: the thread count is the product default.
CONCURRENCY = {"threads": 8, "gevent": 100}


def target_alone(base: str, seconds: float = 3.0, threads: int = 8) -> float:
    """Requests per second the target answers with only a client running."""
    url = f"{base}/ok"
    deadline = time.monotonic() + seconds

    def loop() -> int:
        session, count = requests.Session(), 0
        while time.monotonic() < deadline:
            session.get(url, timeout=5)
            count += 1
        return count

    target_stats(base, reset=True)
    with ThreadPoolExecutor(threads) as pool:
        sum(pool.map(lambda _: loop(), range(threads)))
    stats = target_stats(base)
    # A Python client on this machine saturates before the target does: report what the target
    # serves per second of its own CPU, i.e. its capacity on one core.
    return float(stats["served"] / stats["cpu_s"])


def measure(base: str, warmup: float, window: float) -> dict[str, Any]:
    time.sleep(warmup)
    cpu_before = cpu_seconds()
    target_stats(base, reset=True)
    time.sleep(window)
    stats = target_stats(base)
    cpu = {k: v - cpu_before[k] for k, v in cpu_seconds().items()}
    served = max(1, stats["served"])
    return {
        "per_s": stats["served"] / stats["elapsed_s"],
        "inflight": stats["mean_inflight"],
        "lags": stats["lags"],
        "lags_at": stats["lags_at"],
        "target_cpu": stats["cpu_s"] / stats["elapsed_s"],
        # Milliseconds of CPU per execution, by part of the system: where the cost is.
        "cpu_ms_per_run": {k: round(1000 * v / served, 3) for k, v in cpu.items() if v > 0},
    }


def run_plain(
    redis_url: str, url: str, pool: str, processes: int, warmup: float, window: float, base: str
) -> dict[str, Any]:
    from bench.plain import app

    app.conf.broker_url = redis_url
    stop = threading.Event()
    client = redis.Redis.from_url(redis_url)

    def feed() -> None:
        # Keep a backlog, as a beat with many entries would: the workers never wait for work.
        with app.producer_or_acquire() as producer:
            while not stop.is_set():
                if client.llen("plain") < 2000:
                    for _ in range(500):
                        app.send_task("plain.get", args=[url], queue="plain", producer=producer)
                else:
                    time.sleep(0.02)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    env = {"BENCH_BROKER_URL": redis_url, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.plain",
                "worker",
                "-Q",
                "plain",
                "--pool",
                pool,
                "--concurrency",
                str(CONCURRENCY[pool]),
                "--hostname",
                f"plain{i}@bench",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env={**os.environ, **env},
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(processes)
    ]
    try:
        result = measure(base, warmup, window)
        result.pop("lags")
        return result
    finally:
        stop.set()
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(30)
        feeder.join(10)
        client.flushdb()


def run_pipeline(
    redis_url: str,
    url: str,
    pool: str,
    processes: int,
    endpoints: int,
    warmup: float,
    window: float,
    base: str,
    *,
    keep_lags: bool = False,
    tick_interval_s: float = 1.0,
    interval_s: float = 1.0,
    beats: int = 1,
    scheduler_metrics_port: int = 0,
    stall_s: float = 0.0,
) -> dict[str, Any]:
    """The whole pipeline against the target; with `scheduler_metrics_port`, also the statements
    per second the scheduler worker sent to the database during the window (`scheduler_sql_per_s`).

    With `stall_s`, the first execute worker is stopped (SIGSTOP) for that long, `STALL_AT_S` into
    the window, and `recovery_s` says how long after it resumed the last call later than
    `LATE_S` arrived: how long the backlog the stall left took to drain (None: no call was late).
    """
    engine = bench_engine()
    # A probe endpoint, due at once and then not for a day: its call reaching the target shows
    # that beat, the tick and an execute worker are all up before the measured slots fall due.
    # Seeded with the workers, those slots would fall due while they start, and at high load the
    # backlog that leaves takes tens of seconds to drain: a start-up transient, not the steady state.
    seed_endpoints(engine, 1, url, interval_ms=86_400_000, first_at=utcnow(), spread_s=0)
    c = cluster(
        engine.url.render_as_string(hide_password=False),
        redis_url,
        CRONICORN_EXECUTE_POOL=pool,
        CRONICORN_EXECUTE_CONCURRENCY=str(CONCURRENCY[pool]),
        CRONICORN_TICK_INTERVAL_S=str(tick_interval_s),
    )
    metrics = {"CRONICORN_METRICS_PORT": str(scheduler_metrics_port)} if scheduler_metrics_port else None
    try:
        c.start_worker("scheduler", env=metrics)
        for i in range(processes):
            c.start_worker("execute", name=f"execute{i}")
        for i in range(beats):
            c.start_beat(f"beat{i}")
        target_stats(base, reset=True)
        # A loaded machine can take a while to start a worker.
        wait_for(lambda: target_stats(base)["served"] > 0, 120, "the probe's call through the pipeline")
        if scheduler_metrics_port:
            wait_for(lambda: _serving(scheduler_metrics_port), 120, "the scheduler worker's metrics")
        interval_ms = round(interval_s * 1000)
        seed_endpoints(engine, endpoints, url, interval_ms=interval_ms, first_at=soon(3), spread_s=interval_s)
        time.sleep(warmup + 3)
        statements = scheduler_statements(scheduler_metrics_port)
        resumed: list[float] = []
        if stall_s:
            worker = c.procs["execute0"]
            threading.Thread(target=_stall, args=(worker, stall_s, resumed), daemon=True).start()
        result = measure(base, 0, window)
        if scheduler_metrics_port:
            result["scheduler_sql_per_s"] = (scheduler_statements(scheduler_metrics_port) - statements) / window
        if stall_s:
            after = zip(result["lags_at"], result["lags"], strict=True)
            late = [at for at, lag in after if at >= resumed[0] and lag > LATE_S]
            result["recovery_s"] = max(late) - resumed[0] if late else None
        if not keep_lags:
            result.pop("lags")
            result.pop("lags_at")
        return result
    finally:
        c.stop()
        engine.dispose()
        redis.Redis.from_url(redis_url).flushdb()


STALL_AT_S = 2.0
LATE_S = 0.25  # the dispatch-lag goal at 90% load: a call later than this is still catching up


def _stall(worker: subprocess.Popen[bytes], seconds: float, resumed: list[float]) -> None:
    """Freeze the worker (and its process group) for `seconds`, as a stuck host or a long pause does."""
    time.sleep(STALL_AT_S)
    os.killpg(worker.pid, signal.SIGSTOP)
    try:
        time.sleep(seconds)
    finally:
        os.killpg(worker.pid, signal.SIGCONT)
        resumed.append(time.time())


def _serving(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).ok
    except requests.ConnectionError:
        return False


def scheduler_statements(port: int) -> float:
    """`cronicorn_db_statements_total` of the worker serving metrics on `port` (0: not measured)."""
    if not port:
        return 0.0
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    line = next(ln for ln in text.splitlines() if ln.startswith("cronicorn_db_statements_total "))
    return float(line.split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured per system and configuration")
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument("--target", choices=["fast", "slow", "both"], default="both")
    parser.add_argument("--pools", default="threads,gevent")
    parser.add_argument("--processes", default="1,2")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with own_redis() as redis_url, target() as base:
        alone = target_alone(base)
        print(f"target alone: {alone:,.0f} requests per CPU-second")
        for kind in ["fast", "slow"] if args.target == "both" else [args.target]:
            url = f"{base}/ok" if kind == "fast" else f"{base}/slow"
            for pool in args.pools.split(","):
                for processes in (int(p) for p in args.processes.split(",")):
                    plain = run_plain(redis_url, url, pool, processes, args.warmup, args.window, base)
                    # Enough endpoints that more is always due than the workers can run.
                    offered = 4000 if kind == "fast" else 1500 * processes
                    ours = run_pipeline(redis_url, url, pool, processes, offered, args.warmup, args.window, base)
                    row = {
                        "target": kind,
                        "pool": f"{pool} x{CONCURRENCY[pool]}",
                        "processes": processes,
                        "plain_per_s": plain["per_s"],
                        "cronicorn_per_s": ours["per_s"],
                        "ratio": ours["per_s"] / plain["per_s"] if plain["per_s"] else float("nan"),
                        "plain_inflight_per_proc": plain["inflight"] / processes,
                        "cronicorn_inflight_per_proc": ours["inflight"] / processes,
                        # Share of one core the target used: far below 1, so it was never the limit.
                        "target_cpu": max(plain["target_cpu"], ours["target_cpu"]),
                        "plain_cpu_ms": plain["cpu_ms_per_run"],
                        "cronicorn_cpu_ms": ours["cpu_ms_per_run"],
                    }
                    rows.append(row)
                    print(row, flush=True)
    save(
        Table(
            "throughput",
            [
                "target",
                "pool",
                "processes",
                "plain_per_s",
                "cronicorn_per_s",
                "ratio",
                "plain_inflight_per_proc",
                "cronicorn_inflight_per_proc",
                "target_cpu",
            ],
            rows,
        ),
        {"target_capacity_per_cpu_s": alone},
    )


if __name__ == "__main__":
    main()
