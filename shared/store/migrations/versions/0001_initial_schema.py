"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cronicorn.store.column_types

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "installation",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_installation")),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=64), server_default="default", nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archived_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_tenant_name", ["tenant_id", "name"], unique=False)

    op.create_table(
        "endpoints",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=8), server_default="GET", nullable=False),
        sa.Column(
            "headers", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("body", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True),
        sa.Column("baseline_cron", sa.String(length=255), nullable=True),
        sa.Column("baseline_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("timezone", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column("min_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("max_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("max_execution_time_ms", sa.Integer(), nullable=False),
        sa.Column("max_response_size_kb", sa.Integer(), nullable=False),
        sa.Column("paused_until", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paused_by", sa.String(length=8), nullable=True),
        sa.Column("pause_reason", sa.Text(), nullable=True),
        sa.Column("archived_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_run_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("next_run_source", sa.String(length=32), nullable=True),
        sa.Column("failure_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("run_requested_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ai_hint_interval_ms", sa.BigInteger(), nullable=True),
        sa.Column("ai_hint_next_run_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ai_hint_expires_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ai_hint_reason", sa.Text(), nullable=True),
        sa.Column("fence", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("claimed_slot", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_source", sa.String(length=32), nullable=True),
        sa.Column("claim_attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column("lease_until", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], name=op.f("fk_endpoints_job_id_jobs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_endpoints")),
    )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.create_index(
            "ix_endpoints_due",
            ["next_run_at"],
            unique=False,
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
        )
        batch_op.create_index("ix_endpoints_job_id", ["job_id"], unique=False)

    op.create_table(
        "ai_analysis_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("analyzed_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="success", nullable=False),
        sa.Column("mode", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column(
            "tool_calls", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("reasoning", sa.Text(), nullable=True),
        sa.Column(
            "actions_taken",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("confidence", sa.String(length=16), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("completion_tokens", sa.Integer(), server_default="0", nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("next_analysis_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("endpoint_failure_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "warnings", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["endpoints.id"],
            name=op.f("fk_ai_analysis_sessions_endpoint_id_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_analysis_sessions")),
    )
    with op.batch_alter_table("ai_analysis_sessions", schema=None) as batch_op:
        batch_op.create_index("ix_ai_sessions_endpoint_analyzed", ["endpoint_id", "analyzed_at"], unique=False)

    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("endpoint_id", sa.String(length=36), nullable=False),
        sa.Column("job_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=True),
        sa.Column("scheduled_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("started_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_until", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("request_url", sa.Text(), nullable=True),
        sa.Column(
            "response_headers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "response_body",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("response_text", sa.Text(), nullable=True),
        sa.Column("response_size_bytes", sa.Integer(), nullable=True),
        sa.Column("response_truncated", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=True),
        sa.Column("error_kind", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("superseded", sa.Boolean(), server_default=sa.text("(false)"), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name=op.f("fk_runs_endpoint_id_endpoints"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
        sa.UniqueConstraint("endpoint_id", "scheduled_at", "attempt", name="uq_runs_endpoint_slot_attempt"),
    )
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.create_index("ix_runs_endpoint_started", ["endpoint_id", "started_at"], unique=False)
        batch_op.create_index("ix_runs_job_started", ["job_id", "started_at"], unique=False)
        batch_op.create_index(
            "ix_runs_running_lease",
            ["lease_until"],
            unique=False,
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_runs_running_lease",
            postgresql_where=sa.text("status = 'running'"),
            sqlite_where=sa.text("status = 'running'"),
        )
        batch_op.drop_index("ix_runs_job_started")
        batch_op.drop_index("ix_runs_endpoint_started")

    op.drop_table("runs")
    with op.batch_alter_table("ai_analysis_sessions", schema=None) as batch_op:
        batch_op.drop_index("ix_ai_sessions_endpoint_analyzed")

    op.drop_table("ai_analysis_sessions")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_index("ix_endpoints_job_id")
        batch_op.drop_index(
            "ix_endpoints_due",
            postgresql_where=sa.text("next_run_at IS NOT NULL"),
            sqlite_where=sa.text("next_run_at IS NOT NULL"),
        )

    op.drop_table("endpoints")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_tenant_name")

    op.drop_table("jobs")
    op.drop_table("installation")
