"""Database tables (SQLAlchemy Core). The database is the schedule."""

from __future__ import annotations

import json

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from cronicorn.core.model import DEFAULT_RETRY_BACKOFF_MAX_MS, DEFAULT_RETRY_BACKOFF_MS, DEFAULT_RETRY_ON
from cronicorn.store.column_types import JSONType, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

installation = Table(
    "installation",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("tier", String(32), nullable=False, server_default="free"),
    Column("created_at", UTCDateTime, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    # Only a SHA-256 of the key is kept; the prefix lets people tell their keys apart.
    Column("prefix", String(16), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_api_keys_tenant", "tenant_id"),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    # No foreign key: a tenant that exists only through its jobs (the embedded default) signs too.
    Column("tenant_id", String(64), nullable=False),
    Column("secret", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Set when a newer key replaced this one: it keeps signing (beside the new one) until then.
    Column("retires_at", UTCDateTime, nullable=True),
    Index("ix_signing_keys_tenant", "tenant_id"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False, server_default="default"),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("archived_at", UTCDateTime, nullable=True),
    # Deploy-time registration finds a job by (tenant, name); archived jobs free the name.
    Index("ix_jobs_tenant_name", "tenant_id", "name"),
)

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("description", Text, nullable=True),
    Column("url", Text, nullable=False),
    Column("method", String(8), nullable=False, server_default="GET"),
    Column("headers", JSONType, nullable=False),
    Column("body", JSONType, nullable=True),
    # Endpoints in other jobs whose responses this one's planner may read (cross-job coordination).
    Column("upstream_endpoint_ids", JSONType, nullable=True),
    Column("baseline_cron", String(255), nullable=True),
    Column("baseline_interval_ms", BigInteger, nullable=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("min_interval_ms", BigInteger, nullable=True),
    Column("max_interval_ms", BigInteger, nullable=True),
    Column("timeout_ms", Integer, nullable=False),
    Column("max_execution_time_ms", Integer, nullable=False),
    Column("max_response_size_kb", Integer, nullable=False),
    Column("paused_until", UTCDateTime, nullable=True),
    Column("paused_by", String(8), nullable=True),
    Column("pause_reason", Text, nullable=True),
    Column("archived_at", UTCDateTime, nullable=True),
    Column("last_run_at", UTCDateTime, nullable=True),
    # NULL while not schedulable (archived, or its job paused/archived): never scanned by the tick.
    Column("next_run_at", UTCDateTime, nullable=True),
    Column("next_run_source", String(32), nullable=True),
    Column("failure_count", Integer, nullable=False, server_default="0"),
    Column("run_requested_at", UTCDateTime, nullable=True),
    # Set in an upstream's finishing transaction when this endpoint's dependency is met (trigger):
    # the governor plans a run for it like a run-now, so a worker dying after that commit loses nothing.
    Column("dependency_due_at", UTCDateTime, nullable=True),
    Column("ai_hint_interval_ms", BigInteger, nullable=True),
    Column("ai_hint_next_run_at", UTCDateTime, nullable=True),
    Column("ai_hint_expires_at", UTCDateTime, nullable=True),
    Column("ai_hint_reason", Text, nullable=True),
    # Retries within a slot and the target's not-before (`cronicorn.core.retries`). A failed attempt
    # with a retry left keeps its slot pending here: next_run_at is the retry's time, and the tick
    # claims the row as `retry_slot_at`, attempt `retry_attempt` (after the slot's lost attempts
    # and earlier retries, so crash retries and failure retries never share a number).
    Column("retry_max_attempts", Integer, nullable=False, server_default="0"),
    Column("retry_backoff_ms", Integer, nullable=False, server_default=str(DEFAULT_RETRY_BACKOFF_MS)),
    Column("retry_backoff_max_ms", Integer, nullable=False, server_default=str(DEFAULT_RETRY_BACKOFF_MAX_MS)),
    Column("retry_on", JSONType, nullable=False, server_default=json.dumps([k.value for k in DEFAULT_RETRY_ON])),
    Column("retry_slot_at", UTCDateTime, nullable=True),
    Column("retry_number", Integer, nullable=False, server_default="0"),
    Column("retry_attempt", Integer, nullable=False, server_default="0"),
    Column("retry_reason", Text, nullable=True),
    Column("not_before_at", UTCDateTime, nullable=True),
    # Planner bookkeeping: when to analyse next, and the failure count the last session saw.
    Column("ai_next_analysis_at", UTCDateTime, nullable=True),
    Column("ai_analyzed_failure_count", Integer, nullable=True),
    # Claim state: a claim copies next_run_at into claimed_slot, bumps the fencing token and
    # moves next_run_at to the lease expiry, so a claim nobody started, or an attempt that
    # never finishes, is claimed again once its lease has passed (same slot; the attempt
    # number grows only if the claim had started). See `cronicorn.store.claims`.
    Column("fence", BigInteger, nullable=False, server_default="0"),
    Column("claimed_slot", UTCDateTime, nullable=True),
    Column("claimed_source", String(32), nullable=True),
    Column("claim_attempt", Integer, nullable=False, server_default="0"),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("claim_started_at", UTCDateTime, nullable=True),
    Column("claim_publishes", Integer, nullable=False, server_default="0"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # Schedule options (issue 12). Declared: a one-off time (the third kind of schedule, beside
    # baseline_cron and baseline_interval_ms), what becomes of missed and overlapping slots, jitter,
    # the dates it runs between and how many runs it may make.
    Column("run_at", UTCDateTime, nullable=True),
    Column("catch_up", String(16), nullable=False, server_default="coalesce"),
    Column("catch_up_window_ms", BigInteger, nullable=False, server_default="3600000"),
    Column("overlap", String(16), nullable=False, server_default="skip"),
    Column("jitter_ms", BigInteger, nullable=False, server_default="0"),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("max_runs", Integer, nullable=True),
    # Their state: runs left of max_runs, when the schedule ran out, a backfill's cursor, and the
    # slot of the schedule that jitter moved next_run_at from (the grid continues from it).
    Column("runs_left", Integer, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("backfill_next_at", UTCDateTime, nullable=True),
    Column("backfill_until", UTCDateTime, nullable=True),
    Column("grid_slot_at", UTCDateTime, nullable=True),
    # A job's endpoints in the endpoint table's order (and every lookup by job).
    Index("ix_endpoints_job_name", "job_id", "name", "id"),
    # The tick's only scan: cost follows the number due, not the number registered.
    Index(
        "ix_endpoints_due",
        "next_run_at",
        postgresql_where=text("next_run_at IS NOT NULL"),
        sqlite_where=text("next_run_at IS NOT NULL"),
    ),
)

runs = Table(
    "runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("endpoint_id", String(36), ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("job_id", String(36), nullable=False),
    Column("status", String(16), nullable=False),
    Column("source", String(32), nullable=True),
    Column("scheduled_at", UTCDateTime, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("fence", BigInteger, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("duration_ms", Integer, nullable=True),
    Column("status_code", Integer, nullable=True),
    Column("request_url", Text, nullable=True),
    Column("response_headers", JSONType, nullable=True),
    Column("response_body", JSONType, nullable=True),
    Column("response_text", Text, nullable=True),
    Column("response_size_bytes", Integer, nullable=True),
    Column("response_truncated", Boolean, nullable=False, server_default=text("false")),
    Column("content_type", String(255), nullable=True),
    Column("error_kind", String(32), nullable=True),
    Column("error_message", Text, nullable=True),
    # True when the run finished after its claim was superseded: stored, but it planned nothing.
    Column("superseded", Boolean, nullable=False, server_default=text("false")),
    # Provenance the columns cannot carry: a retry's relation to the attempt before it, a result
    # stored after its lease ended, characters replaced so a response could be stored.
    Column("notes", Text, nullable=True),
    # The upstream run(s) that let this run happen and the values handed down (`dependency_edges`).
    Column("dependency", JSONType, nullable=True),
    UniqueConstraint("endpoint_id", "scheduled_at", "attempt", name="uq_runs_endpoint_slot_attempt"),
    Index("ix_runs_endpoint_started", "endpoint_id", "started_at"),
    # A job's runs by time; the overview's last-hour counts and lag sample read the index alone.
    Index("ix_runs_job_recent", "job_id", "started_at", "status", "attempt", "scheduled_at"),
    Index(
        "ix_runs_running_lease",
        "lease_until",
        postgresql_where=text("status = 'running'"),
        sqlite_where=text("status = 'running'"),
    ),
    # Starting an attempt looks up its endpoints' running runs: never a scan of run history.
    Index(
        "ix_runs_running_endpoint",
        "endpoint_id",
        postgresql_where=text("status = 'running'"),
        sqlite_where=text("status = 'running'"),
    ),
)

ai_analysis_sessions = Table(
    "ai_analysis_sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("endpoint_id", String(36), ForeignKey("endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("analyzed_at", UTCDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="success"),
    Column("mode", String(16), nullable=False, server_default="active"),
    Column("model", String(128), nullable=True),
    Column("tool_calls", JSONType, nullable=False),
    Column("reasoning", Text, nullable=True),
    Column("actions_taken", JSONType, nullable=True),
    Column("confidence", String(16), nullable=True),
    Column("prompt_tokens", Integer, nullable=False, server_default="0"),
    Column("completion_tokens", Integer, nullable=False, server_default="0"),
    Column("duration_ms", Integer, nullable=True),
    Column("next_analysis_at", UTCDateTime, nullable=True),
    Column("endpoint_failure_count", Integer, nullable=False, server_default="0"),
    Column("warnings", JSONType, nullable=False),
    Column("error_message", Text, nullable=True),
    Index("ix_ai_sessions_endpoint_analyzed", "endpoint_id", "analyzed_at"),
)

# --- coordination (issue 16): the watch graph, reactive analyses, the AI's decisions, conflicts ---

endpoint_watches = Table(
    "endpoint_watches",
    metadata,
    # One row per declared upstream (`endpoints.upstream_endpoint_ids`, the source of truth), kept
    # beside it so "who watches this endpoint" is an index lookup in a finish transaction, not a scan.
    Column("upstream_endpoint_id", String(36), primary_key=True),
    Column("downstream_endpoint_id", String(36), primary_key=True),
    Index("ix_endpoint_watches_downstream", "downstream_endpoint_id"),
)

analysis_wanted = Table(
    "analysis_wanted",
    metadata,
    # At most one pending request per endpoint: written in an upstream's finish transaction (so a
    # worker dying after it loses nothing), picked by the reactive selection, deleted by the session.
    # No foreign key: the finish transaction must not take key locks on other endpoints' rows.
    Column("endpoint_id", String(36), primary_key=True),
    Column("wanted_at", UTCDateTime, nullable=False),
    Column("upstream_endpoint_id", String(36), nullable=False),
    Column("upstream_run_id", String(36), nullable=True),
    # The endpoints whose AI-driven runs led here, oldest first: a trigger loop shows up as a repeat.
    Column("chain", JSONType, nullable=False),
    # Set when a selection enqueued it; picked again only after a while (a lost task is not lost).
    Column("picked_at", UTCDateTime, nullable=True),
    Index("ix_analysis_wanted_wanted_at", "wanted_at"),
)

hint_events = Table(
    "hint_events",
    metadata,
    # Every hint, pause, resume and clear, by whom and in which direction: thrash is read from here.
    Column("id", String(36), primary_key=True),
    Column("endpoint_id", String(36), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(8), nullable=False),
    Column("action", String(16), nullable=False),
    Column("direction", String(8), nullable=False),
    Column("interval_ms", BigInteger, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("chain", JSONType, nullable=True),
    Column("session_id", String(36), nullable=True),  # an AI decision's session: it counts once
    Index("ix_hint_events_endpoint_at", "endpoint_id", "at"),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("endpoint_id", String(36), nullable=False),
    Column("other_endpoint_id", String(36), nullable=True),
    Column("detected_at", UTCDateTime, nullable=False),
    # Open until then: shown to the planner and callers, and (thrash) analyses spaced out until damp_until.
    Column("open_until", UTCDateTime, nullable=False),
    Column("damp_until", UTCDateTime, nullable=True),
    Column("resolution", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_conflicts_endpoint_open", "endpoint_id", "open_until"),
    Index("ix_conflicts_tenant_detected", "tenant_id", "detected_at"),
)

# Dependencies (issue 16): one declaration per downstream endpoint, with what it remembers.
dependencies = Table(
    "dependencies",
    metadata,
    Column("endpoint_id", String(36), ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("spec", JSONType, nullable=False),
    # Batch keys already run (bounded, newest last): never run twice for one key.
    Column("keys_done", JSONType, nullable=False),
    # What the slot in progress was handed (its retries are handed the same).
    Column("context", JSONType, nullable=True),
    # The last decisions and why ("why did or didn't it run"), newest last, bounded.
    Column("decisions", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # The dependency graph page reads one tenant's declarations.
    Index("ix_dependencies_tenant", "tenant_id"),
)

# One row per (downstream, upstream): the upstream's run that counts since the downstream's last
# dependency run. Looked up by upstream in the upstream's finishing transaction: an index, no scan.
dependency_edges = Table(
    "dependency_edges",
    metadata,
    Column("endpoint_id", String(36), ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
    Column("upstream_endpoint_id", String(36), ForeignKey("endpoints.id", ondelete="CASCADE"), primary_key=True),
    Column("run_id", String(36), nullable=True),
    Column("at", UTCDateTime, nullable=True),
    Column("batch_key", Text, nullable=True),
    Column("handed", JSONType, nullable=True),
    Index("ix_dependency_edges_upstream", "upstream_endpoint_id"),
)

# --- notifications (issue 14): channels, the outbox of notifications, auto-pause policies ---------

notification_channels = Table(
    "notification_channels",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    # NULL: every job of the tenant; else only this job's endpoints.
    Column("job_id", String(36), ForeignKey("jobs.id", ondelete="CASCADE"), nullable=True),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),  # webhook | email
    Column("target", Text, nullable=False),  # the webhook's URL, or the e-mail address
    Column("secret", Text, nullable=True),  # a webhook's HMAC key (shown once, when created)
    Column("events", JSONType, nullable=False),
    Column("failure_threshold", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_notification_channels_tenant", "tenant_id"),
)

notifications = Table(
    "notifications",
    metadata,
    # The outbox: written in the transaction that changed the endpoint's state, so a worker dying
    # after it loses nothing; delivered (and retried) by the notify task, its outcome kept here.
    Column("id", String(36), primary_key=True),
    Column("channel_id", String(36), ForeignKey("notification_channels.id", ondelete="CASCADE"), nullable=False),
    Column("tenant_id", String(64), nullable=False),
    Column("endpoint_id", String(36), nullable=False),
    Column("event", String(16), nullable=False),
    # What caused it (the run, or the pause's decision): one notification per channel per state change.
    Column("source_id", String(64), nullable=False),
    Column("payload", JSONType, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    UniqueConstraint("channel_id", "event", "source_id", name="uq_notifications_channel_event_source"),
    # The delivery task's only scan: what is pending and due.
    Index(
        "ix_notifications_pending",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
        sqlite_where=text("status = 'pending'"),
    ),
    Index("ix_notifications_endpoint_created", "endpoint_id", "created_at"),
)

auto_pause_policies = Table(
    "auto_pause_policies",
    metadata,
    # Pause an endpoint after this many consecutive failures; set on an endpoint or on a job (the
    # endpoint's own wins). No foreign key: read by id in the finish transaction, and deleted with
    # the endpoint or job by the producer.
    Column("scope_id", String(36), primary_key=True),
    Column("tenant_id", String(64), nullable=False),
    Column("scope", String(8), nullable=False),  # endpoint | job
    Column("after_failures", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)
