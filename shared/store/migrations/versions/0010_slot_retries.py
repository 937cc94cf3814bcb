"""slot retries: an endpoint's retry settings, the retry pending for a slot, and the target's not-before

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cronicorn.store.column_types

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    # Existing endpoints keep today's behaviour: no retries (retry_max_attempts 0).
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("retry_max_attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_backoff_ms", sa.Integer(), nullable=False, server_default="1000"))
        batch.add_column(sa.Column("retry_backoff_max_ms", sa.Integer(), nullable=False, server_default="60000"))
        batch.add_column(
            sa.Column("retry_on", _JSON, nullable=False, server_default='["timeout", "connection", "5xx", "429"]')
        )
        batch.add_column(
            sa.Column("retry_slot_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("retry_number", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_attempt", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("retry_reason", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("not_before_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        for name in (
            "not_before_at",
            "retry_reason",
            "retry_attempt",
            "retry_number",
            "retry_slot_at",
            "retry_on",
            "retry_backoff_max_ms",
            "retry_backoff_ms",
            "retry_max_attempts",
        ):
            batch.drop_column(name)
