"""signup attempts (rate limit of public sign-up)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signup_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signup_attempts"),
    )
    op.create_index("ix_signup_attempts_ip", "signup_attempts", ["ip"])
    op.create_index("ix_signup_attempts_at", "signup_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("signup_attempts")
