"""How long the dashboard's pages take with 10,000 endpoints and 1,000,000 runs (goal: under 200 ms).

    python -m bench.dashboard_pages [--endpoints 10000] [--runs 1000000] [--repeats 20]

Seeds one tenant's endpoints (in jobs of 500) and its runs (spread over the last 48 hours, so half
fall in the overview's 24-hour window, a tenth failed) straight into PostgreSQL, signs in through the
form, then asks for each page `--repeats` times in this process (FastAPI's test client: routing,
queries and template rendering, no network). Reported per page: p50, p95 and max in milliseconds.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bench.harness import Table, bench_engine, own_redis, percentile, save, seed_endpoints, soon, utcnow
from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.settings import Settings
from cronicorn.store.tenants import create_key, create_tenant

JOB_SIZE = 500


def seed(engine: Engine, endpoints: int, runs: int) -> str:
    """The tenant "default" with `endpoints` endpoints and `runs` runs; its API key."""
    now = utcnow()
    create_tenant(engine, now, "default", tier="enterprise")
    for start in range(0, endpoints, JOB_SIZE):
        seed_endpoints(
            engine,
            min(JOB_SIZE, endpoints - start),
            "http://127.0.0.1:9/ok",
            interval_ms=60_000,
            first_at=soon(60),
            spread_s=3600,
        )
    with engine.begin() as conn:
        conn.execute(
            text("""
            WITH e AS (SELECT id, job_id, (row_number() OVER (ORDER BY id)) - 1 AS n FROM endpoints)
            INSERT INTO runs (id, endpoint_id, job_id, status, source, scheduled_at, attempt, fence, started_at,
                              finished_at, duration_ms, status_code, request_url, response_body)
            SELECT gen_random_uuid()::text, e.id, e.job_id,
                   CASE WHEN i % 10 = 0 THEN 'failed' ELSE 'success' END,
                   CASE WHEN i % 7 = 0 THEN 'ai-interval' ELSE 'baseline-interval' END,
                   :now - (i::float8 * 172800 / :runs) * interval '1 second',
                   1, i, :now - (i::float8 * 172800 / :runs - 0.05) * interval '1 second',
                   :now - (i::float8 * 172800 / :runs - 0.25) * interval '1 second',
                   200, CASE WHEN i % 10 = 0 THEN 500 ELSE 200 END, 'http://127.0.0.1:9/ok', '{"ok": true}'::json
            FROM generate_series(0, :runs - 1) AS i JOIN e ON e.n = i % :endpoints
        """),
            {"now": now, "runs": runs, "endpoints": endpoints},
        )
        conn.execute(text("UPDATE endpoints SET failure_count = 2 WHERE name IN ('e1', 'e2', 'e3')"))
        conn.execute(text("ANALYZE"))
    return create_key(engine, now, "default", "bench")[1]


def sign_in(http: TestClient, key: str) -> None:
    token = re.search(r'name="csrf" value="([^"]+)"', http.get("/login").text)
    assert token is not None
    answer = http.post("/login", data={"csrf": token.group(1), "api_key": key})
    assert answer.status_code in (200, 303), answer.text


def measure(http: TestClient, path: str, repeats: int) -> dict[str, Any]:
    http.get(path)  # warm: templates compiled, connections open
    took = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        answer = http.get(path)
        took.append((time.perf_counter() - t0) * 1000)
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:500])
    return {
        "page": path if len(path) < 40 else path[:37] + "...",
        "p50_ms": percentile(took, 50),
        "p95_ms": percentile(took, 95),
        "max_ms": max(took),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    engine = bench_engine()
    t0 = time.monotonic()
    key = seed(engine, args.endpoints, args.runs)
    print(f"seeded {args.endpoints:,} endpoints and {args.runs:,} runs in {time.monotonic() - t0:.0f}s", flush=True)
    with engine.connect() as conn:
        busiest = conn.execute(text("SELECT id FROM endpoints WHERE name = 'e1' LIMIT 1")).scalar_one()
        run_id = conn.execute(text("SELECT id FROM runs WHERE endpoint_id = :e LIMIT 1"), {"e": busiest}).scalar_one()
    with own_redis() as redis_url:
        deps = Deps(engine=engine, redis=redis.Redis.from_url(redis_url), settings=Settings.from_env({}), clock=utcnow)
        with TestClient(create_app(deps)) as http:
            sign_in(http, key)
            pages = [
                "/",
                "/endpoints",
                "/endpoints?q=e12",
                "/endpoints?status=failing",
                "/endpoints?page=150",
                f"/endpoints/{busiest}",
                f"/runs/{run_id}",
            ]
            rows = [measure(http, path, args.repeats) for path in pages]
    save(
        Table("dashboard_pages", ["page", "p50_ms", "p95_ms", "max_ms"], rows),
        {"endpoints": args.endpoints, "runs": args.runs, "repeats": args.repeats},
    )


if __name__ == "__main__":
    main()
