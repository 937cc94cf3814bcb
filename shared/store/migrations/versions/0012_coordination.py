"""coordination: the watch graph, reactive analysis requests, hint events and conflicts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cronicorn.store.column_types

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def _at(name: str, nullable: bool) -> sa.Column[object]:
    return sa.Column(name, cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    watches = op.create_table(
        "endpoint_watches",
        sa.Column("upstream_endpoint_id", sa.String(36), nullable=False),
        sa.Column("downstream_endpoint_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("upstream_endpoint_id", "downstream_endpoint_id", name="pk_endpoint_watches"),
    )
    op.create_index("ix_endpoint_watches_downstream", "endpoint_watches", ["downstream_endpoint_id"])
    op.create_table(
        "analysis_wanted",
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        _at("wanted_at", False),
        sa.Column("upstream_endpoint_id", sa.String(36), nullable=False),
        sa.Column("upstream_run_id", sa.String(36), nullable=True),
        sa.Column("chain", _JSON, nullable=False),
        _at("picked_at", True),
        sa.PrimaryKeyConstraint("endpoint_id", name="pk_analysis_wanted"),
    )
    op.create_index("ix_analysis_wanted_wanted_at", "analysis_wanted", ["wanted_at"])
    op.create_table(
        "hint_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        _at("at", False),
        sa.Column("actor", sa.String(8), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("interval_ms", sa.BigInteger(), nullable=True),
        _at("expires_at", True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("chain", _JSON, nullable=True),
        sa.Column("session_id", sa.String(36), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_hint_events"),
    )
    op.create_index("ix_hint_events_endpoint_at", "hint_events", ["endpoint_id", "at"])
    op.create_table(
        "conflicts",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("other_endpoint_id", sa.String(36), nullable=True),
        _at("detected_at", False),
        _at("open_until", False),
        _at("damp_until", True),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conflicts"),
    )
    op.create_index("ix_conflicts_endpoint_open", "conflicts", ["endpoint_id", "open_until"])
    op.create_index("ix_conflicts_tenant_detected", "conflicts", ["tenant_id", "detected_at"])
    # The watch graph starts as what the endpoints already declare (live endpoints only).
    conn = op.get_bind()
    endpoints = sa.table(
        "endpoints", sa.column("id", sa.String), sa.column("upstream_endpoint_ids", _JSON), sa.column("archived_at")
    )
    rows = conn.execute(
        sa.select(endpoints.c.id, endpoints.c.upstream_endpoint_ids).where(
            endpoints.c.archived_at.is_(None), endpoints.c.upstream_endpoint_ids.is_not(None)
        )
    )
    edges = [
        {"upstream_endpoint_id": up, "downstream_endpoint_id": row.id}
        for row in rows
        for up in dict.fromkeys(row.upstream_endpoint_ids or [])
    ]
    if edges:
        op.bulk_insert(watches, edges)


def downgrade() -> None:
    for name in ("conflicts", "hint_events", "analysis_wanted", "endpoint_watches"):
        op.drop_table(name)
