"""task labels, task priority and the assignee's open tasks

Labels per project (a new table, and a link table to tasks), a priority on every task (a column
with a server default: PostgreSQL 11+ adds it without rewriting the table) and an index for
"my open tasks" (tasks by assignee and done).

Atomic, like every tenant revision: a fleet migration runs it in one transaction per tenant, so a
failure or a cancelled rollout leaves the tenant at t0002 or t0003, never in between. That rules
out CREATE INDEX CONCURRENTLY, which cannot run inside a transaction (and, failing half-way,
leaves an invalid index behind). A plain CREATE INDEX holds a SHARE lock on `tasks` (writes
wait, reads go on) while it builds; a tenant's own tasks table is small, so that is a moment. A
tenant large enough to notice would get its index in a revision of its own, run outside the
rollout's transaction.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "t0003"
down_revision: str | None = "t0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "labels",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "project_id",
            sa.Uuid(),
            sa.ForeignKey("projects.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("color", sa.String(7), server_default="#6b7280", nullable=False),
        sa.UniqueConstraint("project_id", "name", name="uq_labels_project_id_name"),
    )
    op.create_table(
        "task_labels",
        sa.Column(
            "task_id", sa.Uuid(), sa.ForeignKey("tasks.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "label_id", sa.Uuid(), sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True
        ),
    )
    # 1 urgent ... 4 low; existing tasks become "normal".
    op.add_column(
        "tasks", sa.Column("priority", sa.SmallInteger(), server_default="3", nullable=False)
    )
    op.create_check_constraint("ck_tasks_priority", "tasks", "priority BETWEEN 1 AND 4")
    op.create_index("ix_tasks_assignee_id_done", "tasks", ["assignee_id", "done"])


def downgrade() -> None:
    op.drop_index("ix_tasks_assignee_id_done", table_name="tasks")
    op.drop_constraint("ck_tasks_priority", "tasks", type_="check")
    op.drop_column("tasks", "priority")
    op.drop_table("task_labels")
    op.drop_table("labels")
