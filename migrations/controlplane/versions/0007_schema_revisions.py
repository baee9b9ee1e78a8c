"""schema revisions: each tenant's tenant-schema revision, its last migration error, Migrating

`schema_revision` is where the tenant's storage is (provisioning and MigrateTenant keep it
current); `migration_error` the error of its last failed migration. A new status, Migrating,
holds the row while a migration runs (Active -> Migrating -> Active).

Backfill: until this release the tenant schema's head was t0002 (both revisions shipped with the
first version), and provisioning reaches Active only after upgrading the tenant's storage to
head; so every tenant that has been Active since — Active, Updating, or Failed in an update —
is at t0002. Every other row stays NULL (unknown): it has no storage yet, had none when it
failed, or is being or has been deleted; provisioning sets it, and a migration reads the real
revision from the storage whenever the row does not know it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = (
    "'Pending', 'Provisioning', 'Active', 'Failed', 'Updating', 'Cancelled', 'Deleting', 'Deleted'"
)
_AFTER = f"{_BEFORE}, 'Migrating'"


def upgrade() -> None:
    op.add_column("tenants", sa.Column("schema_revision", sa.String(32), nullable=True))
    op.add_column("tenants", sa.Column("migration_error", sa.Text(), nullable=True))
    op.drop_constraint("ck_tenants_status", "tenants", type_="check")
    op.create_check_constraint("ck_tenants_status", "tenants", f"status IN ({_AFTER})")
    op.execute(
        "UPDATE tenants SET schema_revision = 't0002' WHERE database_name IS NOT NULL AND ("
        "status IN ('Active', 'Updating') OR (status = 'Failed' AND workflow_id LIKE 'update-%'))"
    )
    # GET /api/schema counts tenants per revision.
    op.create_index("ix_tenants_schema_revision", "tenants", ["schema_revision"])


def downgrade() -> None:
    # A tenant mid-migration would break the old check constraint: refuse.
    op.execute(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM tenants WHERE status = 'Migrating') "
        "THEN RAISE EXCEPTION 'tenants are being migrated: let their rollout finish first'; "
        "END IF; END $$"
    )
    op.drop_index("ix_tenants_schema_revision", "tenants")
    op.drop_constraint("ck_tenants_status", "tenants", type_="check")
    op.create_check_constraint("ck_tenants_status", "tenants", f"status IN ({_BEFORE})")
    op.drop_column("tenants", "migration_error")
    op.drop_column("tenants", "schema_revision")
