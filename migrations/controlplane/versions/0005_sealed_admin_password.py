"""sealed admin password: the API seals it (AES-GCM) instead of hashing it in the request

The create-admin-user activity unseals and hashes it on the worker, then clears the column (and
admin_password_hash, which rows made without a sealing key still use).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("admin_password_sealed", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    # A tenant still waiting for its admin user would lose that user's password: refuse.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM tenants WHERE admin_password_sealed IS NOT NULL) "
        "THEN RAISE EXCEPTION 'tenants still hold sealed admin passwords: provision them first'; "
        "END IF; END $$"
    )
    op.drop_column("tenants", "admin_password_sealed")
