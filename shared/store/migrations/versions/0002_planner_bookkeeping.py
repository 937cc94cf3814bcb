"""planner bookkeeping on endpoints

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cronicorn.store.column_types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ai_next_analysis_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("ai_analyzed_failure_count", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_column("ai_analyzed_failure_count")
        batch_op.drop_column("ai_next_analysis_at")
