"""Requests per second of the REST API, measured with wrk (apt-get install wrk).

    python -m bench.api_load [--seconds 10] [--connections 16] [--workers 2]

Serves the API with uvicorn on PostgreSQL (the test database) and Redis, seeds a tenant, a job,
an endpoint and 1,000 runs, then drives `GET /api/endpoints/{id}/runs?limit=20` and
`POST /api/jobs/{id}/endpoints` with wrk. Prints a table and writes bench/results/api_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

from cronicorn.producer.client import Cronicorn
from cronicorn.shell.bundled_redis import free_port
from cronicorn.store.tables import runs
from cronicorn.store.tenants import create_key, create_tenant
from tests.services import POSTGRES_URL, REDIS_URL, postgres_engine, redis_client, reset_schema

TIERS = {
    "bench": {"endpoints": 10_000_000, "min_interval_ms": 1000, "runs_per_month": 10_000_000, "ai_tokens_per_month": 1}
}
POST_LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "%s"
counter = 0
request = function()
  counter = counter + 1
  local body = '{"name": "load-' .. counter .. '", "url": "https://api.example.com/x", "baselineIntervalMs": 60000}'
  return wrk.format(nil, nil, nil, body)
end
"""


def wrk(url: str, seconds: int, connections: int, extra: list[str]) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(\w+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)

    def ms(m: re.Match[str] | None) -> float:
        if m is None:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    return {
        "requests_per_s": rps,
        "p50_ms": ms(p50),
        "p99_ms": ms(p99),
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    engine = postgres_engine()
    reset_schema(engine)
    redis_client().flushdb()
    now = datetime.now(UTC)
    create_tenant(engine, now, "bench", tier="bench")
    _, key = create_key(engine, now, "bench", "load")
    os.environ["CRONICORN_TIERS"] = json.dumps(TIERS)
    client = Cronicorn(engine, tenant_id="bench")
    job = client.create_job(name="load")
    ep = client.add_endpoint(job.id, name="target", url="https://api.example.com/x", baseline_interval_ms=60_000)
    with engine.begin() as conn:
        conn.execute(
            runs.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "endpoint_id": ep.id,
                    "job_id": job.id,
                    "status": "success",
                    "source": "baseline-interval",
                    "scheduled_at": now - timedelta(minutes=i),
                    "attempt": 1,
                    "fence": i + 1,
                    "started_at": now - timedelta(minutes=i),
                    "finished_at": now - timedelta(minutes=i),
                    "duration_ms": 12,
                    "status_code": 200,
                    "response_body": {"ok": True, "i": i},
                }
                for i in range(1000)
            ],
        )
    port = free_port()
    env = {
        **os.environ,
        "CRONICORN_DATABASE_URL": POSTGRES_URL,
        "REDIS_URL": REDIS_URL,
        "CRONICORN_LOG_LEVEL": "WARNING",
        "CRONICORN_API_READS_PER_MIN": "100000000",
        "CRONICORN_API_WRITES_PER_MIN": "100000000",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "cronicorn.api.app:app_from_env",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}/api"
    try:
        for _ in range(100):
            try:
                if requests.get(f"{base}/jobs", headers={"x-api-key": key}, timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        reads = wrk(
            f"{base}/endpoints/{ep.id}/runs?limit=20", args.seconds, args.connections, ["-H", f"x-api-key: {key}"]
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(POST_LUA % key)
        writes = wrk(f"{base}/jobs/{job.id}/endpoints", args.seconds, args.connections, ["-s", lua.name])
    finally:
        server.terminate()
        server.wait(10)
    result = {
        "machine": f"{os.cpu_count()} cores",
        "uvicorn_workers": args.workers,
        "connections": args.connections,
        "seconds": args.seconds,
        "GET /api/endpoints/{id}/runs?limit=20": reads,
        "POST /api/jobs/{id}/endpoints": writes,
    }
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "api_load.json").write_text(json.dumps(result, indent=2))
    print(f"{'route':<42} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}")
    for route in ("GET /api/endpoints/{id}/runs?limit=20", "POST /api/jobs/{id}/endpoints"):
        r = result[route]
        print(f"{route:<42} {r['requests_per_s']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} {r['non_2xx']:>8}")  # type: ignore[index]


if __name__ == "__main__":
    main()
