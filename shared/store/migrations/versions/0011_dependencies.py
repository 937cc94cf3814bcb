"""dependencies between endpoints: declarations, their edges by upstream, what triggered a run

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import cronicorn.store.column_types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_TIME = cronicorn.store.column_types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("endpoints") as batch:
        batch.add_column(sa.Column("dependency_due_at", _TIME, nullable=True))
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("dependency", _JSON, nullable=True))
    op.create_table(
        "dependencies",
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("spec", _JSON, nullable=False),
        sa.Column("keys_done", _JSON, nullable=False),
        sa.Column("context", _JSON, nullable=True),
        sa.Column("decisions", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name="fk_dependencies_endpoint_id_endpoints", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("endpoint_id", name="pk_dependencies"),
    )
    op.create_table(
        "dependency_edges",
        sa.Column("endpoint_id", sa.String(36), nullable=False),
        sa.Column("upstream_endpoint_id", sa.String(36), nullable=False),
        sa.Column("run_id", sa.String(36), nullable=True),
        sa.Column("at", _TIME, nullable=True),
        sa.Column("batch_key", sa.Text(), nullable=True),
        sa.Column("handed", _JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["endpoints.id"], name="fk_dependency_edges_endpoint_id_endpoints", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["upstream_endpoint_id"],
            ["endpoints.id"],
            name="fk_dependency_edges_upstream_endpoint_id_endpoints",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "upstream_endpoint_id", name="pk_dependency_edges"),
    )
    op.create_index("ix_dependency_edges_upstream", "dependency_edges", ["upstream_endpoint_id"])


def downgrade() -> None:
    op.drop_index("ix_dependency_edges_upstream", table_name="dependency_edges")
    op.drop_table("dependency_edges")
    op.drop_table("dependencies")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("dependency")
    with op.batch_alter_table("endpoints") as batch:
        batch.drop_column("dependency_due_at")
