"""Cost per run: database statements and round trips, Redis commands, and worker memory over time.

    python -m bench.cost_per_run [--runs 2000] [--executions 100000]

Part 1, counted exactly, in this process: N endpoints fall due; the real tick claims them and
the real runner executes the batches against a local target, on PostgreSQL. Every statement,
commit and rollback is counted at the driver (psycopg2), every Redis round trip at the client,
and every Redis command by a private redis-server. Nothing is sent to the broker here: the
messages per run are 1 / CRONICORN_EXECUTE_BATCH_SIZE, by construction.

Part 2, a real execute worker (thread pool) running `--executions` runs through the whole
pipeline: its resident memory after 10,000 runs and after all of them (flat means no leak).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from typing import Any

import psycopg2.extensions
import redis

from bench.harness import (  # noqa: F401
    BENCH_POSTGRES_URL,
    Table,
    bench_engine,
    cluster,
    own_redis,
    save,
    seed_endpoints,
    soon,
    target,
    target_stats,
    utcnow,
    worker_rss_kb,
)
from cronicorn.store.claims import Claim

COUNTS = {"statements": 0, "commits": 0, "rollbacks": 0, "redis_sends": 0}


def _count_redis_sends() -> None:
    """Count every write to a Redis socket by this process: one per command, or one per pipeline."""
    from redis.connection import AbstractConnection

    original = AbstractConnection.send_packed_command

    def counted(self: Any, command: Any, check_health: bool = True) -> None:
        COUNTS["redis_sends"] += 1
        original(self, command, check_health)

    AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]


class CountingCursor(psycopg2.extensions.cursor):
    def execute(self, query: Any, vars: Any = None) -> Any:  # noqa: A002 - psycopg2's name
        COUNTS["statements"] += 1
        return super().execute(query, vars)

    def executemany(self, query: Any, vars_list: Any) -> Any:
        COUNTS["statements"] += 1
        return super().executemany(query, vars_list)


class CountingConnection(psycopg2.extensions.connection):
    def cursor(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cursor_factory", CountingCursor)
        return super().cursor(*args, **kwargs)

    # psycopg2 talks to the server only when a transaction is open (it sent BEGIN for it).
    def commit(self) -> None:
        if self.status != psycopg2.extensions.STATUS_READY:
            COUNTS["commits"] += 1
        super().commit()

    def rollback(self) -> None:
        if self.status != psycopg2.extensions.STATUS_READY:
            COUNTS["rollbacks"] += 1
        super().rollback()


def redis_commands(url: str) -> int:
    stats = redis.Redis.from_url(url).info("commandstats")
    # The INFO call itself is counted by the server: leave it out. Commands a Lua script runs
    # (the lock release's GET and DEL) are counted as well: this is the server's work.
    return sum(int(v["calls"]) for k, v in stats.items() if k != "cmdstat_info")


def counted(runs: int, redis_url: str, base: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    engine = bench_engine()
    seed_endpoints(engine, runs, f"{base}/ok", interval_ms=60_000, first_at=soon(2), spread_s=0.5)
    engine.dispose()
    os.environ.update(
        {"CRONICORN_DATABASE_URL": BENCH_POSTGRES_URL, "REDIS_URL": redis_url, "CRONICORN_SSRF_ALLOW": "127.0.0.0/8"}
    )
    from cronicorn.core.settings import Settings
    from cronicorn.dispatch.tick import Pace, run_tick
    from cronicorn.store.attempts import Order
    from cronicorn.store.engine import make_engine
    from cronicorn.workers.runtime import Runtime
    from cronicorn.workers.tasks import batches

    _count_redis_sends()
    rt = Runtime(Settings.from_env())
    rt.__dict__["engine"] = make_engine(BENCH_POSTGRES_URL, connect_args={"connection_factory": CountingConnection})
    runner, settings = rt.runner, rt.settings
    orders: list[list[Order]] = []

    def publish(claims: Sequence[Claim]) -> None:
        # Cut as the tick cuts them into messages, but run here instead of being sent.
        orders.extend(
            [Order(c.endpoint_id, c.fence) for c in batch] for batch in batches(claims, settings.execute_batch_size)
        )

    time.sleep(3)  # every seeded endpoint is due by now
    with rt.engine.connect():
        pass  # open one pooled connection first, so connecting is not counted as the tick's cost
    rows = []
    start_cmds, start = redis_commands(redis_url), dict(COUNTS)
    claimed = run_tick(
        rt.engine,
        utcnow,
        publish,
        # One round, as a tick's first: everything seeded is due.
        pace=Pace(
            interval_s=0,
            batch_size=settings.tick_batch_size,
            max_claims=settings.tick_batch_size * settings.tick_max_batches,
        ),
        claim_lease_ms=settings.claim_lease_ms,
    ).claimed
    rows.append(_row("tick (claim)", claimed, start, start_cmds, redis_url))
    start_cmds, start = redis_commands(redis_url), dict(COUNTS)
    cpu = time.process_time()
    outcomes: dict[str, int] = {}
    for batch in orders:
        for outcome in runner.execute_many(batch).values():
            outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
    cpu = time.process_time() - cpu
    rows.append(
        _row(
            f"execute (batches of {settings.execute_batch_size})", sum(outcomes.values()), start, start_cmds, redis_url
        )
    )
    # The worker's own CPU (this process: SQL, Redis, HTTP client, planning), without the servers'.
    rows[-1]["worker_cpu_ms_per_run"] = 1000 * cpu / max(1, sum(outcomes.values()))
    print("outcomes", outcomes)
    rt.engine.dispose()
    return rows, outcomes


def _row(stage: str, runs: int, start: dict[str, int], start_cmds: int, redis_url: str) -> dict[str, Any]:
    """What one stage cost per run; `worker_cpu_ms_per_run` is added for the execute stage."""
    statements = COUNTS["statements"] - start["statements"]
    transactions = COUNTS["commits"] - start["commits"] + COUNTS["rollbacks"] - start["rollbacks"]
    return {
        "stage": stage,
        "runs": runs,
        "statements_per_run": statements / runs,
        "transactions_per_run": transactions / runs,
        # A transaction costs a BEGIN (psycopg2 sends it before the first statement) and a COMMIT.
        "pg_round_trips_per_run": (statements + 2 * transactions) / runs,
        "redis_round_trips_per_run": (COUNTS["redis_sends"] - start["redis_sends"]) / runs,
        "redis_server_commands_per_run": (redis_commands(redis_url) - start_cmds) / runs,
    }


def memory(executions: int, redis_url: str, base: str) -> dict[str, Any]:
    engine = bench_engine()
    seed_endpoints(engine, 2000, f"{base}/ok", interval_ms=1000, first_at=soon(3), spread_s=1.0)
    engine.dispose()
    c = cluster(BENCH_POSTGRES_URL, redis_url)
    rss: dict[int, int] = {}
    try:
        c.start_worker("scheduler")
        worker = c.start_worker("execute")
        c.start_beat()
        target_stats(base, reset=True)
        marks = [m for m in (1_000, 10_000, 25_000, 50_000, 75_000, 100_000) if m < executions] + [executions]
        started = time.monotonic()
        for mark in marks:
            while target_stats(base)["served"] < mark:
                time.sleep(0.5)
            rss[mark] = worker_rss_kb(worker)
            print(
                f"{mark:>8,} runs: worker RSS {rss[mark] / 1024:.1f} MiB ({time.monotonic() - started:.0f}s)",
                flush=True,
            )
    finally:
        c.stop()
    at_10k = rss.get(10_000, rss[min(rss)])
    return {
        "rss_mib": {k: round(v / 1024, 1) for k, v in rss.items()},
        "growth_10k_to_end": (rss[executions] - at_10k) / at_10k,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--executions", type=int, default=100_000, help="0 skips the memory part")
    args = parser.parse_args()
    with own_redis() as redis_url, target() as base:
        rows, outcomes = counted(args.runs, redis_url, base)
        mem = memory(args.executions, redis_url, base) if args.executions else {}
    if mem:
        print(
            f"worker RSS growth from 10,000 runs to {args.executions:,}: {mem['growth_10k_to_end']:+.1%} "
            "(goal within 10%)"
        )
    save(
        Table(
            "cost_per_run",
            [
                "stage",
                "runs",
                "statements_per_run",
                "transactions_per_run",
                "pg_round_trips_per_run",
                "redis_round_trips_per_run",
                "redis_server_commands_per_run",
                "worker_cpu_ms_per_run",
            ],
            rows,
        ),
        {"memory": mem, "outcomes": outcomes},
    )


if __name__ == "__main__":
    main()
