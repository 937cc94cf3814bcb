"""running runs by endpoint: a partial index, so starting an attempt never scans run history

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every attempt start looks for runs of its endpoints still marked running; without this,
    # that lookup reads every past run of the endpoint (cost growing with history, not work).
    op.create_index(
        "ix_runs_running_endpoint",
        "runs",
        ["endpoint_id"],
        postgresql_where=sa.text("status = 'running'"),
        sqlite_where=sa.text("status = 'running'"),
    )


def downgrade() -> None:
    op.drop_index("ix_runs_running_endpoint", table_name="runs")
