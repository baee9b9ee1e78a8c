"""rate limits: one fixed-window counter per key (sign-up and sign-in throttling)

Replaces signup_attempts (a row per request, counted after the insert: a burst at READ COMMITTED
got through).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rate_limits",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("window_ends", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limits"),
    )
    op.create_index("ix_rate_limits_window_ends", "rate_limits", ["window_ends"])
    op.drop_table("signup_attempts")


def downgrade() -> None:
    op.create_table(
        "signup_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("ip", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_signup_attempts"),
    )
    op.create_index("ix_signup_attempts_ip", "signup_attempts", ["ip"])
    op.create_index("ix_signup_attempts_at", "signup_attempts", ["at"])
    op.drop_index("ix_rate_limits_window_ends", "rate_limits")
    op.drop_table("rate_limits")
