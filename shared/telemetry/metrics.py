"""Prometheus metrics. Workers count what they do; the API adds what the schedule says at scrape time.

Multiprocess-safe: with PROMETHEUS_MULTIPROC_DIR set (prefork pools, several uvicorn workers),
prometheus_client keeps per-process files and `registry()` aggregates them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select

from cronicorn.store.tables import endpoints

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

DISPATCH_LAG = Histogram("cronicorn_dispatch_lag_seconds", "Request start minus the scheduled slot", buckets=LAG_BUCKETS)
RUNS = Counter("cronicorn_runs_total", "Finished runs by status and plan source", ["status", "source"])
CLAIMS_PER_TICK = Histogram("cronicorn_claims_per_tick", "Endpoints claimed by one tick",
                            buckets=(0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000))
TICK_DURATION = Histogram("cronicorn_tick_duration_seconds", "Duration of one tick",
                          buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0))
LOCK_CONTENTION = Counter("cronicorn_lock_contention_total", "Executions that found their endpoint locked by another")
ABANDONED = Counter("cronicorn_abandoned_runs_total", "Attempts recorded as abandoned (lease expired, worker lost)")
AI_SESSIONS = Counter("cronicorn_ai_sessions_total", "Planner sessions by outcome", ["status"])
AI_TOKENS = Counter("cronicorn_ai_tokens_total", "Planner tokens", ["kind"])


def registry() -> CollectorRegistry | None:
    """The registry to expose: aggregated across processes in multiprocess mode, else the default."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        reg = CollectorRegistry()
        MultiProcessCollector(reg)  # type: ignore[no-untyped-call]
        return reg
    return None


def serve(port: int) -> None:
    """Expose this process's metrics on `port` (a worker's own /metrics)."""
    reg = registry()
    if reg is None:
        start_http_server(port)
    else:
        start_http_server(port, registry=reg)


class ScheduleCollector(Collector):
    """Read at scrape time from the schedule: due backlog, the next 5 minutes' load, tick age."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime], tick_age: Callable[[], float | None]) -> None:
        self.engine = engine
        self.clock = clock
        self.tick_age = tick_age

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        with self.engine.connect() as conn:
            # Claimed endpoints carry their lease end in next_run_at: they are in flight, not due.
            idle = endpoints.c.claimed_slot.is_(None)
            backlog = conn.execute(select(func.count()).select_from(endpoints).where(idle, endpoints.c.next_run_at <= now)).scalar_one()
            forecast = conn.execute(select(func.count()).select_from(endpoints).where(
                idle, endpoints.c.next_run_at > now, endpoints.c.next_run_at <= now + timedelta(minutes=5))).scalar_one()
        yield GaugeMetricFamily("cronicorn_due_backlog", "Endpoints due now and not yet claimed or finished", value=int(backlog))
        yield GaugeMetricFamily("cronicorn_due_forecast_5m", "Endpoints whose next run falls in the next 5 minutes", value=int(forecast))
        age = self.tick_age()
        if age is not None:
            yield GaugeMetricFamily("cronicorn_tick_age_seconds", "Seconds since the last tick ran (dead-tick alarm)", value=age)
