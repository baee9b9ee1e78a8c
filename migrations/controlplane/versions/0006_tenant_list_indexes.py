"""tenant list indexes: keyset paging per sort order, trigram search over id, name, e-mail

Every sort of GET /api/tenants (created, name, status; the id breaks ties) walks an index, and
`q` (ILIKE '%…%' on id, name and admin e-mail) uses three trigram GIN indexes that PostgreSQL
ORs together. pg_trgm is a trusted extension: the database owner may create it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TRIGRAM = ("id", "name", "admin_email")


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.create_index(
        "ix_tenants_created_id", "tenants", [sa.text("created_on DESC"), sa.text("id DESC")]
    )
    op.create_index("ix_tenants_name_id", "tenants", ["name", "id"])
    op.create_index(
        "ix_tenants_status_created_id",
        "tenants",
        ["status", sa.text("created_on DESC"), sa.text("id DESC")],
    )
    for column in _TRIGRAM:
        op.create_index(
            f"ix_tenants_{column}_trgm",
            "tenants",
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    for column in _TRIGRAM:
        op.drop_index(f"ix_tenants_{column}_trgm", "tenants")
    op.drop_index("ix_tenants_status_created_id", "tenants")
    op.drop_index("ix_tenants_name_id", "tenants")
    op.drop_index("ix_tenants_created_id", "tenants")
    # pg_trgm stays: other objects of the database may use it.
