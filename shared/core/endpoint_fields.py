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
    dependency_due_at: datetime | None  # its dependency was met at this time and triggers a run
    ai_hint_interval_ms: int | None
    ai_hint_next_run_at: datetime | None
    ai_hint_expires_at: datetime | None
    ai_hint_reason: str | None
    # Retries within a slot (`cronicorn.core.retries`) and the target's not-before: how, then what is pending.
    retry_max_attempts: int  # retries of a failed slot (0: none)
    retry_backoff_ms: int  # retry k waits retry_backoff_ms x 2^(k-1) ...
    retry_backoff_max_ms: int  # ... at most this long
    retry_on: list[str]  # the failures retried: timeout, connection, 5xx, 429
    retry_slot_at: datetime | None  # the slot a retry is pending (or running) for; None: none
    retry_number: int  # which retry of that slot it is (1 for the first); 0: none
    retry_reason: str | None  # the failure it follows
    not_before_at: datetime | None  # the earliest the target lets us call again (Retry-After, rate-limit reset)
    created_at: datetime
    updated_at: datetime
    # --- schedule options (issue 12): declared ------------------------------------------------
    run_at: datetime | None  # a one-off: run once at this time (instead of a cron or interval baseline)
    catch_up: str  # coalesce | skip | all: slots missed while the scheduler could not run them
    catch_up_window_ms: int  # how far back `all` replays missed slots
    overlap: str  # skip | buffer_one: a slot falling due while the endpoint's own call is running
    jitter_ms: int  # each grid slot moves by a fixed offset in [0, jitter_ms], derived from the slot
    starts_at: datetime | None  # nothing runs before this
    ends_at: datetime | None  # nothing runs after this: the endpoint is then ended
    max_runs: int | None  # run at most this many times from when it was set
    # --- schedule options (issue 12): state ---------------------------------------------------
    runs_left: int | None  # of max_runs; each finished run (not a backfill run) takes one; 0 ends it
    ended_at: datetime | None  # when its schedule ran out (ends_at, max_runs, one-off done): nothing more planned
    backfill_next_at: datetime | None  # the next slot of a backfill in progress: it runs before anything else
    backfill_until: datetime | None  # the backfill's end (exclusive)
    grid_slot_at: datetime | None  # the slot of the schedule that jitter moved next_run_at from
