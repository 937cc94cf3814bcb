"""signing keys for every tenant: no foreign key to tenants, so tenants known only by their jobs sign too

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The embedded default tenant (and any tenant a Python client names) has jobs but no row in
    # `tenants`; it needs its own signing key all the same. Keys are created lazily on a tenant's
    # first signed call, so existing tenants need no data step here.
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_constraint("fk_signing_keys_tenant_id_tenants", type_="foreignkey")


def downgrade() -> None:
    # Keys of tenants without a row cannot satisfy the foreign key again: they go.
    op.execute(sa.text("DELETE FROM signing_keys WHERE tenant_id NOT IN (SELECT id FROM tenants)"))
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_signing_keys_tenant_id_tenants", "tenants", ["tenant_id"], ["id"], ondelete="CASCADE"
        )
