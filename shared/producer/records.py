"""What the client returns: plain frozen records built from rows."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from cronicorn.core.endpoint_fields import EndpointFields
from cronicorn.producer.redaction import mask_headers
from cronicorn.store.endpoint_rows import EndpointRow


def _columns(row: Row[Any], names: tuple[str, ...]) -> dict[str, Any]:
    """The row's values of these names; a name the row lacks keeps the record's default."""
    m = row._mapping
    return {k: m[k] for k in names if k in m}


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
    def from_row(cls, row: Row[Any]) -> Job:
        return cls(**_columns(row, _JOB_FIELDS))


@dataclass(frozen=True)
class Endpoint(EndpointFields):
    """An endpoint's configuration and schedule state (claim internals reduced to `running`).

    Secret header values read as `cronicorn.producer.redaction.MASK`: they are write-only, whoever reads.
    """

    running: bool = False  # an attempt holds a claim right now
    # What the guardrails changed about the write that returned this record (e.g. a hint clamped
    # into min/max): empty on reads. Nothing is clamped silently.
    notes: tuple[str, ...] = ()

    @classmethod
    def from_row(cls, row: EndpointRow) -> Endpoint:
        values = {name: getattr(row, name) for name in _ENDPOINT_STORED}
        return cls(**{**values, "headers": mask_headers(row.headers)}, running=row.claimed_slot is not None)


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
    notes: str | None = None  # how it relates to its slot's other attempts ("retry 1 of 3 after HTTP 503 ...")

    @classmethod
    def from_row(cls, row: Row[Any]) -> Run:
        return cls(**_columns(row, _RUN_FIELDS))


_JOB_FIELDS = tuple(f.name for f in fields(Job))
_ENDPOINT_STORED = tuple(f.name for f in fields(EndpointFields))
_RUN_FIELDS = tuple(f.name for f in fields(Run))


@dataclass(frozen=True)
class RunPage:
    """One page of runs, newest first, and how many match in all."""

    runs: list[Run]
    total: int


@dataclass(frozen=True)
class PlannedRun:
    """A future run time, the governor rule that chose it, and what else shaped it (jitter, runs
    left, a backfill's end, the end of the schedule after it)."""

    at: datetime
    source: str
    # What is pending on the endpoint, on the first planned run only: a retry of a failed slot
    # ("retry pending at T, attempt 2 of 4 ..."), or the target's Retry-After holding it.
    note: str | None = None
    # What the schedule options made of this run: its jitter, the runs left of max_runs, a
    # backfill's end, and on the last one why the schedule ends after it ("then ended: ...").
    detail: str | None = None
