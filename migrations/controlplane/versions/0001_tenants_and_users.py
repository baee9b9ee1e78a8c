"""tenants and users

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = (
    "'Pending', 'Provisioning', 'Active', 'Failed', 'Updating', 'Cancelled', 'Deleting', 'Deleted'"
)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("has_isolated_database", sa.Boolean(), nullable=False),
        sa.Column("database_name", sa.String(63)),
        sa.Column("schema_name", sa.String(63)),
        sa.Column("admin_email", sa.String(320)),
        sa.Column("admin_password_hash", sa.Text()),
        sa.Column("provisioning_error", sa.Text()),
        sa.Column("last_provisioning_attempt", sa.DateTime(timezone=True)),
        sa.Column("workflow_id", sa.String(200)),
        sa.Column("initiated_by", sa.String(64)),
        sa.Column(
            "created_on", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_on", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_tenants_status"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.String(63), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.ARRAY(sa.String(40)), nullable=False),
        sa.Column(
            "created_on", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_users_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("tenant_id", "email", name="uq_users_tenant_id"),
    )


def downgrade() -> None:
    op.drop_table("users")
    op.drop_table("tenants")
