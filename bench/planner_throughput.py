"""Analyses per minute with N analysis worker processes against a fake model answering in 500 ms.

    python -m bench.planner_throughput [--endpoints 120] [--workers 2] [--delay 0.5]

Each session is two model calls (read the latest response, then submit), so with a 500 ms
model a session takes about one second of waiting; throughput is bounded by how many sessions
run at once (workers x threads) and by our own overhead per session. Needs PostgreSQL and Redis
(the test services); prints a table and writes bench/results/planner_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from celery import Celery
from sqlalchemy import func, select

from cronicorn.store.tables import ai_analysis_sessions, endpoints, jobs, runs
from tests.cluster import Cluster, wait_for
from tests.fake_openai import FakeOpenAI, submit, turns
from tests.services import POSTGRES_URL, REDIS_URL, postgres_engine, redis_client, reset_schema


def seed(engine, count: int) -> list[str]:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    job = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with engine.begin() as conn:
        conn.execute(jobs.insert().values(id=job, name="bench", status="active", created_at=now, updated_at=now))
        conn.execute(
            endpoints.insert(),
            [
                {
                    "id": i,
                    "job_id": job,
                    "name": f"ep-{n}",
                    "url": "http://127.0.0.1:9/",
                    "method": "GET",
                    "headers": {},
                    "baseline_interval_ms": 3_600_000,
                    "timeout_ms": 5000,
                    "max_execution_time_ms": 60_000,
                    "max_response_size_kb": 100,
                    "created_at": now,
                    "updated_at": now,
                    "last_run_at": now,
                    "next_run_at": now + timedelta(hours=1),
                }
                for n, i in enumerate(ids)
            ],
        )
        conn.execute(
            runs.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "endpoint_id": i,
                    "job_id": job,
                    "status": "success",
                    "scheduled_at": now,
                    "attempt": 1,
                    "fence": 1,
                    "started_at": now,
                    "finished_at": now,
                    "duration_ms": 12,
                    "status_code": 200,
                    "response_body": {"status": "ok", "n": n},
                }
                for n, i in enumerate(ids)
            ],
        )
    return ids


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=120)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--delay", type=float, default=0.5)
    args = parser.parse_args()

    engine = postgres_engine()
    reset_schema(engine)
    redis_client().flushdb()
    model = FakeOpenAI(turns([("get_latest_response", {})], [submit()]), prompt_tokens=None, delay_s=args.delay).start()
    ids = seed(engine, args.endpoints)
    log_dir = Path(tempfile.mkdtemp(prefix="bench-planner-"))
    cluster = Cluster(
        database_url=POSTGRES_URL,
        redis_url=REDIS_URL,
        log_dir=log_dir,
        extra_env={
            "OPENAI_API_KEY": "bench",
            "OPENAI_BASE_URL": model.base_url,
            "CRONICORN_AI_MIN_SPACING_S": "0",
            "CRONICORN_LOG_LEVEL": "WARNING",
        },
    )
    try:
        for w in range(args.workers):
            cluster.start_worker("analysis", name=f"analysis-{w}", concurrency=args.threads)
        time.sleep(4)  # let the workers come up before the clock starts
        app = Celery(broker=REDIS_URL)
        started = time.monotonic()
        for endpoint_id in ids:
            app.send_task("cronicorn.analyze", kwargs={"endpoint_id": endpoint_id}, queue="analysis")

        def done() -> int:
            with engine.connect() as conn:
                return int(conn.execute(select(func.count()).select_from(ai_analysis_sessions)).scalar_one())

        wait_for(lambda: done() >= len(ids), 600, "all sessions", poll_s=0.05)
        elapsed = time.monotonic() - started
        with engine.connect() as conn:
            tokens = conn.execute(
                select(func.avg(ai_analysis_sessions.c.prompt_tokens + ai_analysis_sessions.c.completion_tokens))
            ).scalar_one()
    finally:
        cluster.stop()
        model.stop()
    result = {
        "endpoints": len(ids),
        "analysis_workers": args.workers,
        "threads_per_worker": args.threads,
        "model_delay_s": args.delay,
        "model_calls_per_session": 2,
        "elapsed_s": round(elapsed, 2),
        "analyses_per_minute": round(len(ids) / elapsed * 60, 1),
        "ideal_analyses_per_minute": round(args.workers * args.threads * 60 / (2 * args.delay), 1),
        "avg_tokens_per_session_estimated": round(float(tokens or 0)),
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "planner_throughput.json").write_text(json.dumps(result, indent=2))
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
