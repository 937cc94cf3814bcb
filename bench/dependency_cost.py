"""Added cost per run of evaluating dependencies, with 10,000 edges registered.

    python -m bench.dependency_cost [--edges 10000] [--runs 2000] [--url sqlite:///...]

Times `record_upstream_results` (what an upstream's finishing transaction adds) for runs of
(a) an endpoint that nothing depends on, (b) an upstream with one downstream whose condition and
batch key are read and whose trigger re-plans it, while `--edges` edges are registered in all.
Each run is its own transaction, as in the finishing write. Prints microseconds per run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine

from cronicorn.core.expressions import Response
from cronicorn.store.dependency_edges import Finished, record_upstream_results
from cronicorn.store.engine import make_engine
from cronicorn.store.migrate import upgrade
from cronicorn.store.tables import dependencies, dependency_edges, endpoints, jobs

SPEC = {
    "upstream_endpoint_ids": [],
    "on": "success",
    "condition": '$.status == "done" and status < 300',
    "fan_in": "all",
    "batch_key": "$.batch_id",
    "trigger": True,
    "gate": False,
    "template": {"body": {"batch": "key"}},
}


def populate(engine: Engine, edges: int, now: datetime) -> tuple[str, str]:
    """`edges` downstreams each waiting on one of 100 upstreams; returns (a lone endpoint, an upstream)."""
    job = str(uuid.uuid4())
    ids = [str(uuid.uuid4()) for _ in range(edges + 101)]
    row = {
        "job_id": job, "url": "http://127.0.0.1:9/", "method": "GET", "headers": {}, "baseline_interval_ms": 3_600_000,
        "timeout_ms": 5000, "max_execution_time_ms": 60_000, "max_response_size_kb": 100,
        "created_at": now, "updated_at": now, "next_run_at": now,
    }  # fmt: skip
    with engine.begin() as conn:
        conn.execute(jobs.insert().values(id=job, name="bench", created_at=now, updated_at=now))
        conn.execute(endpoints.insert(), [{**row, "id": i, "name": f"e{n}"} for n, i in enumerate(ids)])
        upstreams, downstreams = ids[1:101], ids[101:]
        conn.execute(
            dependencies.insert(),
            [
                {"endpoint_id": d, "tenant_id": "default", "spec": {**SPEC, "upstream_endpoint_ids": [u]},
                 "keys_done": [], "decisions": [], "created_at": now, "updated_at": now}
                for d, u in zip(downstreams, upstreams * (edges // 100 + 1), strict=False)
            ],
        )  # fmt: skip
        conn.execute(
            dependency_edges.insert(),
            [
                {"endpoint_id": d, "upstream_endpoint_id": u}
                for d, u in zip(downstreams, upstreams * (edges // 100 + 1), strict=False)
            ],
        )
    return ids[0], upstreams[0]


def per_run_us(engine: Engine, endpoint_id: str, runs: int) -> float:
    started = time.perf_counter()
    for n in range(runs):
        response = Response(200, {}, {"status": "done", "batch_id": f"b{n}"})
        with engine.begin() as conn:
            record_upstream_results(
                conn, [Finished(endpoint_id, str(uuid.uuid4()), "success", response)], datetime.now(UTC)
            )
    return (time.perf_counter() - started) / runs * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edges", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--url", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    upgrade(engine)
    lone, upstream = populate(engine, args.edges, datetime.now(UTC))
    # The upstream has edges // 100 downstreams; measure with one: give it a private upstream.
    with engine.begin() as conn:
        conn.execute(dependency_edges.delete().where(dependency_edges.c.upstream_endpoint_id == upstream))
        one = conn.execute(dependencies.select().limit(1)).first()
        assert one is not None
        conn.execute(dependency_edges.insert().values(endpoint_id=one.endpoint_id, upstream_endpoint_id=upstream))
    none_us = per_run_us(engine, lone, args.runs)
    one_us = per_run_us(engine, upstream, args.runs)
    print(f"edges registered: {args.edges}  runs: {args.runs}  database: {engine.dialect.name}")
    print(f"no downstream:  {none_us:8.1f} us per run (the index lookup that finds no edge)")
    print(f"one downstream: {one_us:8.1f} us per run (condition, batch key, trigger and re-plan)")


if __name__ == "__main__":
    main()
