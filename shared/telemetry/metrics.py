"""Prometheus metrics that workers count into (the schedule's own gauges are in `cronicorn.monitoring`).

Multiprocess-safe: with PROMETHEUS_MULTIPROC_DIR set (prefork pools, several uvicorn workers),
prometheus_client keeps per-process files and `registry()` aggregates them.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector
from sqlalchemy import Engine, event

LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0)

DISPATCH_LAG = Histogram(
    "cronicorn_dispatch_lag_seconds", "Request start minus the scheduled slot", buckets=LAG_BUCKETS
)
RUNS = Counter("cronicorn_runs_total", "Finished runs by status and plan source", ["status", "source"])
RUN_ERRORS = Counter(
    "cronicorn_run_errors_total", "Runs that did not succeed, by error kind (timeout, http_status, ...)", ["error_kind"]
)
CLAIMS_PER_TICK = Histogram(
    "cronicorn_claims_per_tick",
    "Endpoints claimed by one tick",
    buckets=(0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 5000),
)
DEFERRED_ROUNDS = Counter(
    "cronicorn_tick_rounds_deferred_total",
    "Claim rounds a tick put off because execute messages were waiting unstarted (every worker full)",
)
TICK_DURATION = Histogram(
    "cronicorn_tick_duration_seconds",
    "Duration of one tick",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0),
)
DB_STATEMENTS = Counter(
    "cronicorn_db_statements_total",
    "SQL statements this process sent to the database (an executemany counts once)",
)
LOCK_CONTENTION = Counter("cronicorn_lock_contention_total", "Executions that found their endpoint locked by another")
STORE_CONFLICTS = Counter(
    "cronicorn_store_conflicts_total", "Finishing writes retried after losing a race (deadlock, serialization)"
)
ABANDONED = Counter("cronicorn_abandoned_runs_total", "Attempts recorded as abandoned (lease expired, worker lost)")
AI_SESSIONS = Counter("cronicorn_ai_sessions_total", "Planner sessions by outcome", ["status"])
AI_TOKENS = Counter("cronicorn_ai_tokens_total", "Planner tokens", ["kind"])
NOTIFICATION_ATTEMPTS = Counter(
    "cronicorn_notification_attempts_total",
    "Notification delivery attempts by channel kind, event and outcome (sent, pending: a retry follows, failed)",
    ["kind", "event", "outcome"],
)
CONFLICTS = Counter(
    "cronicorn_conflicts_total",
    "Conflicts between steering decisions detected, by kind (see docs/coordination.md)",
    ["kind"],
)


def count_statements(engine: Engine) -> None:
    """Count every statement `engine` sends: what each role costs the database, idle and busy."""
    event.listen(engine, "before_cursor_execute", lambda *_: DB_STATEMENTS.inc())


def count_run(status: str, source: str | None, error_kind: str | None) -> None:
    """Count one finished run (and its error kind when it failed)."""
    RUNS.labels(status, source or "unknown").inc()
    if error_kind:
        RUN_ERRORS.labels(error_kind).inc()


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
