"""Dispatch lag: request start minus scheduled slot, at 25%, 50% and 90% of maximum throughput.

    python -m bench.dispatch_lag [--max-rate R] [--fractions 0.25,0.5,0.9] [--repeats 3] [--window 20]
                                 [--two-beats] [--stall 3]

The maximum is measured first, in the same run (unless given): the pipeline with work always due
(fast target, threads, one execute process: `bench.throughput`'s row), minutes before the rows
that take shares of it. This machine's speed drifts by a quarter within an hour (the same
configuration ran 492/s and 363/s an hour apart), so a maximum measured earlier says little about
now. For each fraction f, endpoints on a 4 s fixed-rate interval run through the whole
pipeline (beat, scheduler worker, one execute worker, PostgreSQL, Redis) with the default 1 s
tick, as many as make f x max runs due per second; `ran_per_s` is the rate that really ran. The
lag is measured by the target: arrival time minus the slot carried in the Idempotency-Key.
`--two-beats` adds a row at 50% with two beats enqueueing ticks (the flight keeps them one at a
time). The scheduler's cost is the SQL statements per second its worker sent
(`cronicorn_db_statements_total`), under each load and idle (1,000 endpoints, none due).

The measured endpoints are added only once a probe's call has gone through beat, the tick and an
execute worker, so no slot falls due while the workers start (at 90% load, the backlog a start
leaves drains with a tenth of the capacity: a start-up transient, not the steady state measured
here). Each row then measures after a 30 s warm-up (connection pools, caches, the collector).
A last row measures recovery: at 90% load the execute worker is stopped (SIGSTOP) for `--stall`
seconds (3; 0 leaves the row out) 2 s into the window, and `recovery_s` is how long after it resumed
the last call later than 250 ms arrived, i.e. how long the backlog took to drain.
The 90% row is measured `--repeats` times (3), since one run says
little at a tenth of the capacity spare. `execute_cpu_ms` is the execute process's CPU per run:
it follows the machine's drift (the same work cost 1.6 to 3.0 ms per run in the 90% rows of one day).
`ran_fraction` tells the rows apart: well above the load, the window
was still catching up; well below it, the workers could not keep up at all.
"""

from __future__ import annotations

import argparse
from typing import Any

from bench.harness import Table, free_port, own_redis, percentile, save, target
from bench.throughput import run_pipeline

INTERVAL_S = 4.0
IDLE_ENDPOINTS = 1000
STALL_S = 3.0
SATURATING_ENDPOINTS = 4000  # on a 1 s interval: always more due than the workers can run


def measure_max_rate(redis_url: str, base: str) -> float:
    """Runs per second with work always due: `bench.throughput`'s fast/threads/1-process row."""
    result = run_pipeline(redis_url, f"{base}/ok", "threads", 1, SATURATING_ENDPOINTS, 8.0, 15.0, base)
    print(f"maximum: {result['per_s']:.0f} runs/s", flush=True)
    return float(result["per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-rate", type=float)
    parser.add_argument("--fractions", default="0.25,0.5,0.9")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each row at 90%% load or more")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=30.0)
    parser.add_argument("--two-beats", action="store_true", help="also measure 50%% load with two beats")
    parser.add_argument("--stall", type=float, default=STALL_S, help="seconds the execute worker stops (0: no row)")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    fractions = [float(f) for f in args.fractions.split(",")]
    runs = [(f, 1, 0.0) for f in fractions for _ in range(args.repeats if f >= 0.9 else 1)]
    runs += [(0.5, 2, 0.0)] if args.two_beats else []
    runs += [(0.9, 1, args.stall)] if args.stall else []
    with own_redis() as redis_url, target() as base:
        max_rate = args.max_rate or measure_max_rate(redis_url, base)
        idle = run_pipeline(
            redis_url, f"{base}/ok", "threads", 1, IDLE_ENDPOINTS, min(args.warmup, 8.0), args.window, base,
            interval_s=86_400, scheduler_metrics_port=free_port(),
        )  # fmt: skip
        rows.append({"load": f"idle ({IDLE_ENDPOINTS:,} registered)", "beats": 1, "endpoints": IDLE_ENDPOINTS,
                     "scheduler_sql_per_s": idle["scheduler_sql_per_s"]})  # fmt: skip
        print(rows[-1], flush=True)
        for fraction, beats, stall in runs:
            offered = max(1, round(fraction * max_rate))
            endpoints = round(offered * INTERVAL_S)
            result = run_pipeline(
                redis_url, f"{base}/ok", "threads", 1, endpoints, args.warmup, args.window, base,
                keep_lags=True, interval_s=INTERVAL_S, beats=beats, scheduler_metrics_port=free_port(),
                stall_s=stall,
            )  # fmt: skip
            lags = result["lags"]
            stalled = f", execute stopped {stall:g} s" if stall else ""
            row = {
                "load": f"{fraction:.0%} of {max_rate:,.0f}/s{stalled}",
                "beats": beats,
                "endpoints": endpoints,
                "ran_per_s": result["per_s"],
                "ran_fraction": result["per_s"] / max_rate,
                "p50_ms": percentile(lags, 50) * 1000,
                "p95_ms": percentile(lags, 95) * 1000,
                "p99_ms": percentile(lags, 99) * 1000,
                "max_ms": max(lags) * 1000 if lags else float("nan"),
                "scheduler_sql_per_s": result["scheduler_sql_per_s"],
                "execute_cpu_ms": result["cpu_ms_per_run"].get("execute"),
            }
            if stall:
                row["recovery_s"] = result["recovery_s"]
            rows.append(row)
            print(row, flush=True)
    columns = ["load", "beats", "endpoints", "ran_per_s", "ran_fraction", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
    save(
        Table("dispatch_lag", [*columns, "scheduler_sql_per_s", "execute_cpu_ms", "recovery_s"], rows),
        {
            "max_rate_per_s": max_rate,
            "max_rate_measured": not args.max_rate,
            "goal": "p99 <= 100 ms at 50% of the maximum, <= 250 ms at 90%",
        },
    )


if __name__ == "__main__":
    main()
