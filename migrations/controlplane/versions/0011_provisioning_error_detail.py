"""provisioning error detail: the driver's text behind a tenant's error sentence

`tenants.provisioning_error` holds a sentence an operator can act on (activities/translate.py);
`provisioning_error_detail` the technical text it was made from, for the "details" disclosure.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("provisioning_error_detail", sa.Text()))


def downgrade() -> None:
    op.drop_column("tenants", "provisioning_error_detail")
