"""rollouts: one row per fleet rollout of a tenant schema revision; at most one open

`uq_rollouts_one_open` is a unique index on a constant over the rows without `finished_at`: a
second open row is a unique violation, so two API processes racing to start a rollout cannot
both succeed (the loser answers 409). The row keeps the final snapshot (`summary`) so finished
rollouts are listed and read without Temporal (core/rollouts.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("target_revision", sa.String(64), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("initiated_by", sa.String(64)),
        sa.Column(
            "created_on", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(20)),
        sa.Column("summary", postgresql.JSONB()),
        sa.Column("error", sa.Text()),
    )
    op.create_index(
        "uq_rollouts_one_open",
        "rollouts",
        [sa.text("(true)")],
        unique=True,
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_index("ix_rollouts_created_on", "rollouts", [sa.text("created_on DESC")])


def downgrade() -> None:
    op.drop_table("rollouts")
