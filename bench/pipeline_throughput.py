"""Executions per second through the whole pipeline (beat -> tick -> execute -> stored run -> next plan).

    python -m bench.pipeline_throughput [--endpoints 600] [--seconds 20] [--threads 16]

N endpoints on a 1 s interval against a local target, one execute worker process (thread pool),
one scheduler worker and beat on PostgreSQL and Redis; counts runs finished in the steady window.
The target is measured alone first so it is known not to be the bottleneck. This is the sizing
figure the README quotes; the full comparison with plain Celery is issue 6's suite.
"""
from __future__ import annotations

import argparse
import multiprocessing
import json
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import func, select

from shared.tables import endpoints, jobs, runs
from tests.cluster import Cluster
from tests.services import POSTGRES_URL, REDIS_URL, postgres_engine, redis_client, reset_schema
from tests.targets import TargetServer


def target_alone(url: str, seconds: float = 3.0, threads: int = 8) -> float:
    """Requests per second the target answers with nothing else running."""
    deadline = time.monotonic() + seconds

    def loop() -> int:
        session, count = requests.Session(), 0
        while time.monotonic() < deadline:
            session.get(url, timeout=5)
            count += 1
        return count

    with ThreadPoolExecutor(threads) as pool:
        total = sum(pool.map(lambda _: loop(), range(threads)))
    return total / seconds


def serve_target(port_queue: "multiprocessing.Queue[int]") -> None:
    target = TargetServer()
    port_queue.put(target.port)
    target.server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=600)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    engine = postgres_engine()
    reset_schema(engine)
    redis_client().flushdb()
    # The target runs in its own process so it does not share a GIL with the measuring client.
    ctx = multiprocessing.get_context("spawn")
    port_queue: multiprocessing.Queue[int] = ctx.Queue()
    target_proc = ctx.Process(target=serve_target, args=(port_queue,), daemon=True)
    target_proc.start()
    url = f"http://127.0.0.1:{port_queue.get(timeout=10)}/ok"
    alone = target_alone(url)
    now = datetime.now(timezone.utc)
    job = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(jobs.insert().values(id=job, name="bench", status="active", created_at=now, updated_at=now))
        conn.execute(endpoints.insert(), [
            {"id": str(uuid.uuid4()), "job_id": job, "name": f"e{i}", "url": url, "method": "GET", "headers": {},
             "baseline_interval_ms": 1000, "timeout_ms": 5000, "max_execution_time_ms": 60_000, "max_response_size_kb": 100,
             "created_at": now, "updated_at": now, "next_run_at": now + timedelta(seconds=5, milliseconds=i * 1000 // args.endpoints)}
            for i in range(args.endpoints)
        ])
    cluster = Cluster(database_url=POSTGRES_URL, redis_url=REDIS_URL, log_dir=Path(tempfile.mkdtemp(prefix="bench-pipe-")),
                      extra_env={"CRONICORN_LOG_LEVEL": "WARNING", "CRONICORN_TICK_INTERVAL_S": "0.2"})
    try:
        cluster.start_worker("scheduler")
        cluster.start_worker("execute", concurrency=args.threads)
        cluster.start_beat()
        time.sleep(10)  # start-up and the first pass
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(runs).where(runs.c.status != "running")).scalar_one()
        started = time.monotonic()
        time.sleep(args.seconds)
        with engine.connect() as conn:
            after = conn.execute(select(func.count()).select_from(runs).where(runs.c.status != "running")).scalar_one()
            lag = conn.execute(select(func.percentile_cont(0.5).within_group((func.extract("epoch", runs.c.started_at - runs.c.scheduled_at)))))\
                .scalar_one()
        elapsed = time.monotonic() - started
    finally:
        cluster.stop()
        target_proc.terminate()
    result = {
        "endpoints": args.endpoints, "execute_processes": 1, "threads": args.threads, "target_alone_rps": round(alone),
        "executions_per_s": round((after - before) / elapsed, 1), "offered_per_s": args.endpoints, "median_dispatch_lag_s": round(float(lag), 3),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "pipeline_throughput.json").write_text(json.dumps(result, indent=2))
    for key, value in result.items():
        print(f"{key:<24} {value}")


if __name__ == "__main__":
    main()
