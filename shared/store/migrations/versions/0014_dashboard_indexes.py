"""dashboard indexes: the endpoint table's order, the overview's recent runs, a tenant's dependencies

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The endpoint table walks a job's endpoints by name (and id, for equal names) from this index, so
    # a page costs its rows, not a sort of all the tenant's endpoints. It leads with job_id: it serves
    # every lookup the old (job_id) index did.
    op.create_index("ix_endpoints_job_name", "endpoints", ["job_id", "name", "id"])
    op.drop_index("ix_endpoints_job_id", table_name="endpoints")
    # The overview counts the last hour's runs by status and samples their start lag: with these
    # columns in the index it reads the index alone, not one heap page per run.
    op.create_index("ix_runs_job_recent", "runs", ["job_id", "started_at", "status", "attempt", "scheduled_at"])
    op.drop_index("ix_runs_job_started", table_name="runs")
    # The dependency graph page reads one tenant's declarations, not every tenant's.
    op.create_index("ix_dependencies_tenant", "dependencies", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_dependencies_tenant", table_name="dependencies")
    op.create_index("ix_runs_job_started", "runs", ["job_id", "started_at"])
    op.drop_index("ix_runs_job_recent", table_name="runs")
    op.create_index("ix_endpoints_job_id", "endpoints", ["job_id"])
    op.drop_index("ix_endpoints_job_name", table_name="endpoints")
