"""claim lifecycle: whether a claim was started, how often it was published, and run notes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cronicorn.store.column_types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A claim that no worker started (its message lost, or its scheduler killed before
    # publishing) is claimed again after a short lease without counting as a lost attempt.
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(
            sa.Column("claim_started_at", cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("claim_publishes", sa.Integer(), nullable=False, server_default="0"))
    # Claims made by an older version may have started (their runs exist): count them as started,
    # so a reclaim takes the next attempt number instead of colliding with the run they left.
    op.execute("UPDATE endpoints SET claim_started_at = lease_until WHERE claimed_slot IS NOT NULL")
    # What the record alone cannot say: a retry's relation to the attempt it replaces, a result
    # stored after its lease, a response stored with characters replaced.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("notes", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("notes")
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("claim_publishes")
        batch.drop_column("claim_started_at")
