"""The Python producer client: register and steer jobs and endpoints straight on the database.

Example::

    from shared.client import Cronicorn

    cron = Cronicorn.from_url("postgresql+psycopg2://user@db/cronicorn")
    job, eps = cron.register(
        {"name": "billing", "description": "Invoices and their health"},
        [{"name": "sync", "url": "https://api.example.com/sync", "baseline_interval_ms": 60_000}],
    )
    cron.run_now(eps[0].id)

Every change takes effect at once: the endpoint's next run is re-planned in the same
transaction. Invalid input raises `InvalidInput` naming each bad field, and writes nothing.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Engine

from shared import control, endpoints, jobs, register, runs_query
from shared.db import make_engine
from shared.endpoints import endpoint_row
from shared.errors import InvalidInput
from shared.explain import explain_row
from shared.limits import Tier
from shared.planner import sessions
from shared.records import Endpoint, Job, PlannedRun, Run, RunPage
from shared.specs import JobSpec


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _fields(spec: BaseModel | dict[str, Any] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    if spec is None:
        return kwargs
    base = spec.model_dump(exclude_unset=True) if isinstance(spec, BaseModel) else dict(spec)
    return {**base, **kwargs}


class Cronicorn:
    """Producer-facing client for one tenant.

    Args:
        engine: a SQLAlchemy engine on the scheduler's database (see `from_url`).
        tenant_id: the tenant whose jobs this client sees and writes (default "default").
        clock: returns the current aware UTC time; tests pass a fixed one.
    """

    def __init__(self, engine: Engine, *, tenant_id: str = "default", clock: Callable[[], datetime] | None = None,
                 tier: Tier | None = None) -> None:
        self.engine = engine
        self.tenant_id = tenant_id
        self.clock = clock or _utcnow
        self.tier = tier  # the tenant's limits; None (direct database access) means unlimited

    @classmethod
    def from_url(cls, database_url: str, **kwargs: Any) -> "Cronicorn":
        """A client on the database at `database_url` (PostgreSQL or SQLite)."""
        return cls(make_engine(database_url), **kwargs)

    # --- jobs ---------------------------------------------------------------------------
    def create_job(self, spec: BaseModel | dict[str, Any] | None = None, **fields: Any) -> Job:
        """Create a job. Fields: name (1-255), description (<= 1000)."""
        return jobs.create_job(self.engine, self.tenant_id, self.clock(), _fields(spec, fields))

    def get_job(self, job_id: str) -> Job:
        return jobs.get_job(self.engine, self.tenant_id, job_id)

    def list_jobs(self, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[Job]:
        """Jobs of this tenant, oldest first; `status` filters (active, paused, archived)."""
        if status is not None and status not in ("active", "paused", "archived"):
            raise InvalidInput.one("status", "must be active, paused or archived")
        return jobs.list_jobs(self.engine, self.tenant_id, status=status, limit=limit, offset=offset)

    def update_job(self, job_id: str, **fields: Any) -> Job:
        """Change a job's name or description."""
        return jobs.update_job(self.engine, self.tenant_id, self.clock(), job_id, fields)

    def pause_job(self, job_id: str) -> Job:
        """Stop every endpoint of the job from running until `resume_job`."""
        return jobs.pause_job(self.engine, self.tenant_id, self.clock(), job_id)

    def resume_job(self, job_id: str) -> Job:
        """Resume a paused job; each endpoint is re-planned from now."""
        return jobs.resume_job(self.engine, self.tenant_id, self.clock(), job_id)

    def archive_job(self, job_id: str) -> Job:
        """Archive a job for good: its endpoints never run again."""
        return jobs.archive_job(self.engine, self.tenant_id, self.clock(), job_id)

    # --- endpoints ----------------------------------------------------------------------
    def add_endpoint(self, job_id: str, spec: BaseModel | dict[str, Any] | None = None, **fields: Any) -> Endpoint:
        """Add an endpoint to a job.

        Fields: name, url, method (GET/POST/PUT/PATCH/DELETE), headers, body (JSON, POST/PUT/PATCH
        only), exactly one of baseline_cron (5 fields, evaluated in `timezone`) or
        baseline_interval_ms (>= 1000), min_interval_ms, max_interval_ms, timeout_ms (>= 1000),
        max_execution_time_ms (<= 1,800,000), max_response_size_kb, description (the AI's rules).
        """
        return endpoints.add_endpoint(self.engine, self.tenant_id, self.clock(), job_id, _fields(spec, fields), self.tier)

    def get_endpoint(self, endpoint_id: str) -> Endpoint:
        return endpoints.get_endpoint(self.engine, self.tenant_id, endpoint_id)

    def list_endpoints(self, job_id: str | None = None, *, include_archived: bool = False,
                       limit: int = 100, offset: int = 0) -> list[Endpoint]:
        """Endpoints of this tenant, optionally of one job."""
        return endpoints.list_endpoints(self.engine, self.tenant_id, job_id, include_archived=include_archived,
                                        limit=limit, offset=offset)

    def update_endpoint(self, endpoint_id: str, **fields: Any) -> Endpoint:
        """Change any endpoint fields; setting one kind of baseline replaces the other. Re-plans at once."""
        return endpoints.update_endpoint(self.engine, self.tenant_id, self.clock(), endpoint_id, fields, self.tier)

    def archive_endpoint(self, endpoint_id: str) -> Endpoint:
        return endpoints.archive_endpoint(self.engine, self.tenant_id, self.clock(), endpoint_id)

    def pause_endpoint(self, endpoint_id: str, until: datetime, reason: str | None = None) -> Endpoint:
        """Pause until `until` (aware datetime in the future). The AI cannot lift this pause."""
        return control.pause_endpoint(self.engine, self.tenant_id, self.clock(), endpoint_id, until, reason)

    def resume_endpoint(self, endpoint_id: str) -> Endpoint:
        return control.resume_endpoint(self.engine, self.tenant_id, self.clock(), endpoint_id)

    def reset_failures(self, endpoint_id: str) -> Endpoint:
        """Forget consecutive failures (and their backoff); re-plans at once."""
        return endpoints.reset_failures(self.engine, self.tenant_id, self.clock(), endpoint_id)

    def run_now(self, endpoint_id: str) -> Endpoint:
        """Run as soon as the guardrails allow (min interval since the last run)."""
        return control.run_now(self.engine, self.tenant_id, self.clock(), endpoint_id)

    def set_interval_hint(self, endpoint_id: str, interval_ms: int, ttl_minutes: float = 60,
                          reason: str | None = None) -> Endpoint:
        """Run every `interval_ms` (clamped into min/max) until the hint expires."""
        return control.set_interval_hint(self.engine, self.tenant_id, self.clock(), endpoint_id, interval_ms,
                                         ttl_minutes, reason)

    def set_oneshot_hint(self, endpoint_id: str, *, next_run_at: datetime | None = None,
                         next_run_in_ms: int | None = None, ttl_minutes: float = 30,
                         reason: str | None = None) -> Endpoint:
        """Run once at `next_run_at` (or in `next_run_in_ms`), if earlier than planned."""
        return control.set_oneshot_hint(self.engine, self.tenant_id, self.clock(), endpoint_id,
                                        next_run_at=next_run_at, next_run_in_ms=next_run_in_ms,
                                        ttl_minutes=ttl_minutes, reason=reason)

    def clear_hints(self, endpoint_id: str) -> Endpoint:
        return control.clear_hints(self.engine, self.tenant_id, self.clock(), endpoint_id)

    def explain(self, endpoint_id: str, n: int = 5) -> list[PlannedRun]:
        """The next `n` run times with their sources, assuming each run succeeds."""
        if not 1 <= n <= 100:
            raise InvalidInput.one("n", "must be between 1 and 100")
        with self.engine.connect() as conn:
            row = endpoint_row(conn, self.tenant_id, endpoint_id)
        return explain_row(row, self.clock(), n)

    # --- runs ---------------------------------------------------------------------------
    def list_runs(self, *, endpoint_id: str | None = None, job_id: str | None = None, status: str | None = None,
                  since: datetime | None = None, until: datetime | None = None, limit: int = 50,
                  offset: int = 0) -> RunPage:
        """Runs newest first with the total count; filter by endpoint, job, status and start time."""
        return runs_query.list_runs(self.engine, self.tenant_id, endpoint_id=endpoint_id, job_id=job_id,
                                    status=status, since=since, until=until, limit=limit, offset=offset)

    def get_run(self, run_id: str) -> Run:
        return runs_query.get_run(self.engine, self.tenant_id, run_id)

    # --- AI planner sessions --------------------------------------------------------------
    def list_sessions(self, endpoint_id: str | None = None, *, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """Planner sessions newest first: tool calls, reasoning, tokens, outcome and warnings."""
        return sessions.list_sessions(self.engine, self.tenant_id, endpoint_id=endpoint_id, limit=limit, offset=offset)

    def get_session(self, session_id: str) -> dict[str, Any]:
        return sessions.get_session(self.engine, self.tenant_id, session_id)

    # --- deploy-time registration -------------------------------------------------------
    def register(self, job: JobSpec | dict[str, Any], endpoint_specs: list[Any],
                 on_conflict: register.OnConflict = "update") -> tuple[Job, list[Endpoint]]:
        """Create or bring up to date a job and its endpoints by name; safe to run on every deploy."""
        return register.register(self.engine, self.tenant_id, self.clock(), job, endpoint_specs, on_conflict)
