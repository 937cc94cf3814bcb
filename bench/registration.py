"""Tick cost and lag with 1,000 vs 1,000,000 registered endpoints and the same number due.

    python -m bench.registration [--sizes 1000,1000000] [--due-per-s 100] [--seconds 10]

The real tick (claim as work falls due, publish execute messages to Redis) runs in this process,
one after another as beat would ask for them, while `--due-per-s` endpoints fall due each second
(slots spread evenly). The other registered endpoints are due later, as in a real installation
whose endpoints run every few hours. Reported: each tick's busy time (its interval minus the time
it slept waiting for work: database reads, claims, publishing; p50, max) and claim lag (claim
time minus slot).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

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
from cronicorn.store.claims import Claim


def measure(size: int, due_per_s: int, seconds: int, redis_url: str) -> dict[str, Any]:
    engine = bench_engine()
    due = due_per_s * seconds
    t0 = time.monotonic()
    if size > due:
        # The rest fall due after the window, spread over a day (written first: a million rows
        # take a while, and the window must start after them).
        seed_endpoints(
            engine, size - due, "http://127.0.0.1:9/ok", interval_ms=86_400_000, first_at=soon(3600), spread_s=86_400
        )
    start = soon(5)
    seed_endpoints(engine, due, "http://127.0.0.1:9/ok", interval_ms=3_600_000, first_at=start, spread_s=seconds)
    print(f"seeded {size:,} endpoints in {time.monotonic() - t0:.0f}s", flush=True)

    os.environ.update({"CRONICORN_DATABASE_URL": BENCH_POSTGRES_URL, "REDIS_URL": redis_url})
    from cronicorn.dispatch.tick import Pace, run_tick
    from cronicorn.workers.runtime import reset_runtime, runtime
    from cronicorn.workers.tasks import publish_executions

    reset_runtime()
    rt = runtime()
    lags: list[float] = []

    def publish(claims: Sequence[Claim]) -> None:
        now = utcnow()
        lags.extend((now - c.slot).total_seconds() for c in claims)
        publish_executions(claims)

    durations: list[float] = []
    claimed = 0
    # Ticks on the second, as beat sends them, from the window's start to one tick past its end.
    while utcnow() < start:
        time.sleep(0.01)
    s = rt.settings
    pace = Pace(
        interval_s=1.0,
        batch_size=s.tick_batch_size,
        max_claims=s.tick_batch_size * s.tick_max_batches,
        gather_s=s.tick_gather_ms / 1000,
        poll_s=s.tick_poll_ms / 1000,
    )
    slept = [0.0]

    def sleep(duration: float) -> None:
        slept[0] += duration
        time.sleep(duration)

    # Ticks back to back over the window, then a short one for slots on its last instant: never
    # as long as a claim lease, since nothing executes here and unstarted claims would come round.
    for interval in [1.0] * seconds + [0.25]:
        slept[0] = 0.0
        result = run_tick(
            rt.engine, utcnow, publish, pace=replace(pace, interval_s=interval), claim_lease_ms=s.claim_lease_ms,
            sleep=sleep,
        )  # fmt: skip
        durations.append(result.duration_s - slept[0])
        claimed += result.claimed
    rt.engine.dispose()
    engine.dispose()
    return {
        "registered": size,
        "due": due,
        "claimed": claimed,
        "tick_busy_p50_ms": percentile(durations, 50) * 1000,
        "tick_busy_max_ms": max(durations) * 1000,
        "lag_p50_s": percentile(lags, 50),
        "lag_p99_s": percentile(lags, 99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--due-per-s", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    rows = []
    with own_redis() as redis_url:
        for size in (int(s) for s in args.sizes.split(",")):
            rows.append(measure(size, args.due_per_s, args.seconds, redis_url))
            print(rows[-1], flush=True)
    ratio = rows[-1]["tick_busy_p50_ms"] / rows[0]["tick_busy_p50_ms"] if len(rows) > 1 else float("nan")
    print(f"tick busy p50 ratio largest/smallest: {ratio:.2f} (goal <= 1.5)")
    save(
        Table(
            "registration",
            ["registered", "due", "claimed", "tick_busy_p50_ms", "tick_busy_max_ms", "lag_p50_s", "lag_p99_s"],
            rows,
        ),
        {"tick_p50_ratio": ratio, "goal": "tick with 1,000,000 registered <= 1.5 x tick with 1,000 registered"},
    )


if __name__ == "__main__":
    main()
