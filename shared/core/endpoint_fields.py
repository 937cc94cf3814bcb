"""What an endpoint is: its configuration and schedule state, declared once.

The stored row (`cronicorn.store.endpoint_rows.EndpointRow`) adds the claim internals and its job's
status and tenant; the record producers get (`cronicorn.producer.records.Endpoint`) adds only
whether an attempt is in flight. Both derive from this one list of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class EndpointFields:
    """An endpoint's configuration and schedule state, as producers see them."""

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
