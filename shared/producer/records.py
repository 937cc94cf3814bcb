"""What the client returns: plain frozen records built from rows."""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

T = TypeVar("T")


def _mapping(row: Any) -> Any:
    return row._mapping if hasattr(row, "_mapping") else row


def _from_row(cls: type[T], row: Any, **extra: Any) -> T:
    m = _mapping(row)
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: m[k] for k in names if k in m and k not in extra}, **extra)


@dataclass(frozen=True)
class Job:
    """A named group of endpoints; status active, paused or archived."""

    id: str
    tenant_id: str
    name: str
    description: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> "Job":
        return _from_row(cls, row)


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's configuration and schedule state (claim internals reduced to `running`)."""

    id: str
    job_id: str
    name: str
    description: str | None
    url: str
    method: str
    headers: dict[str, str]
    body: Any
    baseline_cron: str | None
    baseline_interval_ms: int | None
    timezone: str
    min_interval_ms: int | None
    max_interval_ms: int | None
    timeout_ms: int
    max_execution_time_ms: int
    max_response_size_kb: int
    upstream_endpoint_ids: list[str] | None
    paused_until: datetime | None
    paused_by: str | None
    pause_reason: str | None
    archived_at: datetime | None
    last_run_at: datetime | None
    next_run_at: datetime | None
    next_run_source: str | None
    failure_count: int
    run_requested_at: datetime | None
    ai_hint_interval_ms: int | None
    ai_hint_next_run_at: datetime | None
    ai_hint_expires_at: datetime | None
    ai_hint_reason: str | None
    created_at: datetime
    updated_at: datetime
    running: bool = False  # an attempt holds a claim right now

    @classmethod
    def from_row(cls, row: Any) -> "Endpoint":
        m = _mapping(row)
        running = m["claimed_slot"] is not None if "claimed_slot" in m else bool(m.get("running", False))
        return _from_row(cls, row, running=running)


@dataclass(frozen=True)
class Run:
    """One attempt of one slot of an endpoint, with its outcome."""

    id: str
    endpoint_id: str
    job_id: str
    status: str
    source: str | None
    scheduled_at: datetime
    attempt: int
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    status_code: int | None
    request_url: str | None
    response_headers: dict[str, str] | None
    response_body: Any
    response_text: str | None
    response_size_bytes: int | None
    response_truncated: bool
    content_type: str | None
    error_kind: str | None
    error_message: str | None
    superseded: bool
    fence: int = 0
    lease_until: datetime | None = None

    @classmethod
    def from_row(cls, row: Any) -> "Run":
        return _from_row(cls, row)


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first, and how many match in all."""

    runs: list[Run]
    total: int


@dataclass(frozen=True)
class PlannedRun:
    """A future run time and the governor rule that chose it."""

    at: datetime
    source: str
