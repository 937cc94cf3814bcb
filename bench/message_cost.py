"""CPU an execute worker spends per message and per call: why claims share messages.

    python -m bench.message_cost [--repeats 3]

In this process, on PostgreSQL and a private Redis, the real runner executes claims against the
local target in messages of 1, 10 and 50 claims (`Runner.execute_many`, as the execute task does:
one start transaction, the calls side by side, the finishes stored together, the Redis locks).
The process's CPU time per message, fitted as a line over the sizes, splits into a part each
message costs whatever it carries and a part each call adds. Celery's own cost per message
(receiving, acknowledging, task events) comes on top of the first.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from datetime import timedelta
from typing import Any

from bench.harness import BENCH_POSTGRES_URL, Table, bench_engine, own_redis, save, seed_endpoints, target
from cronicorn.core.clock import utcnow

SIZES = (1, 10, 50)
CALLS_PER_SIZE = 500  # calls run at each size and repeat: 500 messages of 1, 10 of 50


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    with own_redis() as redis_url, target() as base:
        engine = bench_engine()
        os.environ.update({"CRONICORN_DATABASE_URL": BENCH_POSTGRES_URL, "REDIS_URL": redis_url})
        os.environ.setdefault("CRONICORN_SSRF_ALLOW", "127.0.0.0/8")
        from cronicorn.store.attempts import Order
        from cronicorn.store.claims import claim_due
        from cronicorn.workers.runtime import reset_runtime, runtime

        reset_runtime()
        runner = runtime().runner
        needed = CALLS_PER_SIZE * len(SIZES) * (args.repeats + 1)
        seed_endpoints(
            engine, needed, f"{base}/ok", interval_ms=86_400_000, first_at=utcnow() - timedelta(seconds=5), spread_s=0
        )

        def cpu_per_message(size: int) -> float:
            spent = 0.0
            for _ in range(CALLS_PER_SIZE // size):
                claims = claim_due(engine, utcnow(), limit=size, claim_lease=60_000)
                assert len(claims) == size, "ran out of seeded endpoints"
                started = time.process_time()  # claiming is the scheduler's: not counted
                runner.execute_many([Order(c.endpoint_id, c.fence) for c in claims])
                spent += time.process_time() - started
            return 1000 * spent / (CALLS_PER_SIZE // size)

        for size in SIZES:  # warm: connection pools, statement caches, threads
            cpu_per_message(size)
        for repeat in range(args.repeats):
            per_message = {size: cpu_per_message(size) for size in SIZES}
            per_call = (per_message[SIZES[-1]] - per_message[SIZES[0]]) / (SIZES[-1] - SIZES[0])
            row: dict[str, Any] = {"repeat": repeat + 1}
            row.update({f"cpu_ms_message_of_{size}": per_message[size] for size in SIZES})
            row.update({"fixed_ms_per_message": per_message[SIZES[0]] - per_call * SIZES[0], "ms_per_call": per_call})
            rows.append(row)
            print(row, flush=True)
        engine.dispose()
    fixed = statistics.median(r["fixed_ms_per_message"] for r in rows)
    call = statistics.median(r["ms_per_call"] for r in rows)
    print(f"median: {fixed:.2f} ms per message, {call:.2f} ms per call", flush=True)
    columns = ["repeat", *(f"cpu_ms_message_of_{s}" for s in SIZES), "fixed_ms_per_message", "ms_per_call"]
    save(Table("message_cost", columns, rows), {"median_ms_per_message": fixed, "median_ms_per_call": call})


if __name__ == "__main__":
    main()
