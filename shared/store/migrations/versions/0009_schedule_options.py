"""schedule options: one-off time, catch-up, overlap, jitter, start and end dates, run count, backfill

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cronicorn.store.column_types

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TIMES = ("run_at", "starts_at", "ends_at", "ended_at", "backfill_next_at", "backfill_until", "grid_slot_at")


def upgrade() -> None:
    # Existing endpoints keep what they did (coalesce, no jitter, no dates, no count), except that a
    # slot falling due during their own call is now skipped (overlap=skip, the default)
    # rather than run once after it.
    with op.batch_alter_table("endpoints") as batch:
        for name in _TIMES:
            batch.add_column(sa.Column(name, cronicorn.store.column_types.UTCDateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("catch_up", sa.String(length=16), nullable=False, server_default="coalesce"))
        batch.add_column(sa.Column("catch_up_window_ms", sa.BigInteger(), nullable=False, server_default="3600000"))
        batch.add_column(sa.Column("overlap", sa.String(length=16), nullable=False, server_default="skip"))
        batch.add_column(sa.Column("jitter_ms", sa.BigInteger(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("max_runs", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("runs_left", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        for name in ("runs_left", "max_runs", "jitter_ms", "overlap", "catch_up_window_ms", "catch_up", *_TIMES):
            batch.drop_column(name)
