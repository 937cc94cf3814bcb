"""How long the dashboard's pages take with 10,000 endpoints and 1,000,000 runs (goal: under 200 ms).

    python -m bench.dashboard_pages [--endpoints 10000] [--runs 1000000] [--edges 1000] [--repeats 20] [--reuse]

Seeds one tenant's endpoints (in jobs of 500), its runs (spread over the last 48 hours, a tenth
failed) and a dependency graph (`--edges` endpoints each waiting on the one before it, every
declaration with a full record of decisions) straight into PostgreSQL, signs in through the form,
then asks for each page `--repeats` times in this process (FastAPI's test client: routing, queries
and template rendering, no network). Reported per page: p50, p95 and max in milliseconds.
`--reuse` keeps the database an earlier run seeded with the same sizes (migrated to head): seeding a
million runs takes minutes, a change to a query or an index does not need it again.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from typing import Any

import redis
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from bench.harness import (
    BENCH_POSTGRES_URL,
    Table,
    bench_engine,
    own_redis,
    percentile,
    save,
    seed_endpoints,
    soon,
    utcnow,
)
from cronicorn.api.app import create_app
from cronicorn.api.deps import Deps
from cronicorn.core.settings import Settings
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.store.tenants import create_key, create_tenant

JOB_SIZE = 500


def seed(engine: Engine, endpoints: int, runs: int, edges: int) -> str:
    """The tenant "default" with `endpoints` endpoints, `runs` runs and `edges` dependencies; its API key."""
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
        seed_dependencies(conn, edges, now)
        conn.execute(
            text("CREATE TABLE bench_seed AS SELECT :e AS endpoints, :r AS runs, :d AS edges"),
            sizes(endpoints, runs, edges),
        )
    vacuum(engine)
    return create_key(engine, now, "default", "bench")[1]


def vacuum(engine: Engine) -> None:
    """What autovacuum does after a bulk insert: statistics, and the visibility map that lets a query
    read an index alone (VACUUM cannot run inside a transaction)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def seed_dependencies(conn: Any, edges: int, now: Any) -> None:
    """Endpoint n+1 of a job waits on endpoint n (a chain per job), `edges` of them in all; each
    declaration carries the bounded record of decisions full (what a busy pipeline holds)."""
    conn.execute(
        text("""
        WITH e AS (SELECT id, job_id, row_number() OVER (PARTITION BY job_id ORDER BY name, id) AS n FROM endpoints),
        pairs AS (SELECT d.id AS down, u.id AS up FROM e d JOIN e u ON u.job_id = d.job_id AND u.n = d.n - 1
                  ORDER BY d.id LIMIT :edges)
        INSERT INTO dependency_edges (endpoint_id, upstream_endpoint_id, run_id, at)
        SELECT down, up, CASE WHEN random() < 0.5 THEN gen_random_uuid()::text END, :now FROM pairs
    """),
        {"edges": edges, "now": now},
    )
    conn.execute(
        text("""
        INSERT INTO dependencies (endpoint_id, tenant_id, spec, keys_done, context, decisions, created_at, updated_at)
        SELECT x.endpoint_id, 'default',
               json_build_object('upstream_endpoint_ids', json_build_array(x.upstream_endpoint_id),
                                 'on', 'success', 'fan_in', 'all', 'trigger', true, 'gate', false,
                                 'condition', '$.ok == true'),
               '[]'::json, NULL,
               (SELECT json_agg(d ORDER BY i, k) FROM generate_series(1, 10) AS i,
                LATERAL (VALUES
                  (0, json_build_object('at', :at, 'kind', 'upstream-counted', 'result', 'counts',
                       'reason', 'upstream run r' || i || ': counts', 'upstream_run_id', 'r' || i,
                       'upstream_endpoint_id', x.upstream_endpoint_id)),
                  (1, json_build_object('at', :at, 'kind', 'dependency-met',
                       'reason', 'all 1 upstreams met; latest run r' || i || ': triggers a run',
                       'upstream_run_id', 'r' || i))) AS v(k, d)),
               :now, :now
        FROM dependency_edges AS x
    """),
        {"now": now, "at": now.isoformat()},
    )


def sizes(endpoints: int, runs: int, edges: int) -> dict[str, int]:
    return {"e": endpoints, "r": runs, "d": edges}


def seeded_engine(endpoints: int, runs: int, edges: int, reuse: bool) -> tuple[Engine, str | None]:
    """The bench database and a new API key when `reuse` finds one seeded with these sizes (migrated to
    head); otherwise an emptied database and no key (the caller seeds it)."""
    if reuse:
        engine = make_engine(BENCH_POSTGRES_URL)
        try:
            with engine.connect() as conn:
                seeded = conn.execute(text("SELECT endpoints, runs, edges FROM bench_seed")).one()
        except Exception:  # noqa: BLE001 - no such table (or database): seed it
            seeded = None
        if seeded is not None and tuple(seeded) == (endpoints, runs, edges):
            upgrade(engine)
            vacuum(engine)
            return engine, create_key(engine, utcnow(), "default", "bench")[1]
        engine.dispose()
    engine = bench_engine()
    return engine, None


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
    row = {
        "page": path if len(path) < 40 else path[:37] + "...",
        "p50_ms": percentile(took, 50),
        "p95_ms": percentile(took, 95),
        "max_ms": max(took),
    }
    print(f"{row['page']:<42} p50 {row['p50_ms']:7.1f} ms  p95 {row['p95_ms']:7.1f} ms", flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoints", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=1000, help="dependency edges (chains within each job)")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--reuse", action="store_true", help="keep a database seeded with the same sizes")
    args = parser.parse_args(argv)
    engine, key = seeded_engine(args.endpoints, args.runs, args.edges, args.reuse)
    if key is None:
        t0 = time.monotonic()
        key = seed(engine, args.endpoints, args.runs, args.edges)
        took = time.monotonic() - t0
        print(
            f"seeded {args.endpoints:,} endpoints, {args.runs:,} runs, {args.edges:,} edges in {took:.0f}s", flush=True
        )
    with engine.connect() as conn:
        busiest = conn.execute(text("SELECT id FROM endpoints WHERE name = 'e1' LIMIT 1")).scalar_one()
        run_id = conn.execute(text("SELECT id FROM runs WHERE endpoint_id = :e LIMIT 1"), {"e": busiest}).scalar_one()
        job_id = conn.execute(text("SELECT job_id FROM endpoints WHERE id = :e"), {"e": busiest}).scalar_one()
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
                "/dependencies",
                f"/jobs/{job_id}/dependencies",
            ]
            rows = [measure(http, path, args.repeats) for path in pages]
    save(
        Table("dashboard_pages", ["page", "p50_ms", "p95_ms", "max_ms"], rows),
        {
            "endpoints": args.endpoints,
            "runs": args.runs,
            "edges": args.edges,
            "repeats": args.repeats,
            # Other work on the machine moves these figures: say how busy it was when they were taken.
            "load_average_1_5_15m": [round(x, 2) for x in os.getloadavg()],
        },
    )


if __name__ == "__main__":
    main()
