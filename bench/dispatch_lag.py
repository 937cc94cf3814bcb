"""Dispatch lag: request start minus scheduled slot, at 25%, 50% and 90% of maximum throughput.

    python -m bench.dispatch_lag [--max-rate R] [--fractions 0.25,0.5,0.9] [--window 20]

The maximum is read from bench/results/throughput.json (fast target, threads, 1 execute process)
unless given. For each fraction f, endpoints on a 4 s interval run through the whole pipeline
with the default 1 s tick, as many as make f x max runs due per second: an interval counts from
the end of a run (as in the original), and a run starts up to one tick after its slot, so each
endpoint runs about every 5 s. `ran_per_s` is the rate that really ran. The lag is measured by
the target: arrival time minus the slot carried in the Idempotency-Key.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bench.harness import RESULTS, Table, own_redis, percentile, save, target
from bench.throughput import run_pipeline

INTERVAL_S = 4.0


def max_rate_from_results() -> float:
    rows = json.loads((RESULTS / "throughput.json").read_text())["rows"]
    for row in rows:
        if row["target"] == "fast" and row["pool"].startswith("threads") and row["processes"] == 1:
            return float(row["cronicorn_per_s"])
    raise SystemExit(
        "no fast/threads/1-process row in bench/results/throughput.json: run bench.throughput or pass --max-rate"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--max-rate", type=float)
    parser.add_argument("--fractions", default="0.25,0.5,0.9")
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=8.0)
    parser.add_argument(
        "--fast-tick",
        type=float,
        default=0.25,
        help="also measure 50%% load with this tick interval (0 to skip): the lag follows the tick",
    )
    args = parser.parse_args()
    max_rate = args.max_rate or max_rate_from_results()
    rows: list[dict[str, Any]] = []
    runs = [(float(f), 1.0) for f in args.fractions.split(",")] + ([(0.5, args.fast_tick)] if args.fast_tick else [])
    with own_redis() as redis_url, target() as base:
        for fraction, tick_s in runs:
            offered = max(1, round(fraction * max_rate))
            endpoints = round(offered * (INTERVAL_S + tick_s))
            result = run_pipeline(
                redis_url,
                f"{base}/ok",
                "threads",
                1,
                endpoints,
                args.warmup,
                args.window,
                base,
                keep_lags=True,
                tick_interval_s=tick_s,
                interval_s=INTERVAL_S,
            )
            lags = result["lags"]
            row = {
                "load": f"{fraction:.0%} of {max_rate:,.0f}/s",
                "tick_s": tick_s,
                "endpoints": endpoints,
                "ran_per_s": result["per_s"],
                "ran_fraction": result["per_s"] / max_rate,
                "p50_s": percentile(lags, 50),
                "p95_s": percentile(lags, 95),
                "p99_s": percentile(lags, 99),
                "max_s": max(lags) if lags else float("nan"),
            }
            rows.append(row)
            print(row, flush=True)
    save(
        Table(
            "dispatch_lag",
            ["load", "tick_s", "endpoints", "ran_per_s", "ran_fraction", "p50_s", "p95_s", "p99_s", "max_s"],
            rows,
        ),
        {"max_rate_per_s": max_rate, "goal": "p99 <= tick interval + 0.5 s at 50% of the maximum"},
    )


if __name__ == "__main__":
    main()
