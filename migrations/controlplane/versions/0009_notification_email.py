"""notification e-mail fallback: when a notification was e-mailed, and each user's opt-out

`notifications.emailed_at`: set by the API's e-mail sweep (api/notification_mail.py) in the
transaction that sends it, so no other process sends it again. A partial index holds only the
notifications still waiting for a stream or an e-mail: the sweep reads it, not the whole table.
`users.notify_by_email`: the user's choice (PUT /api/me/preferences); on unless they opt out.

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("emailed_at", sa.DateTime(timezone=True)))
    op.create_index(
        "ix_notifications_waiting",
        "notifications",
        ["created_at"],
        postgresql_where=sa.text("delivered_at IS NULL AND emailed_at IS NULL"),
    )
    op.add_column(
        "users",
        sa.Column("notify_by_email", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("users", "notify_by_email")
    op.drop_index("ix_notifications_waiting", table_name="notifications")
    op.drop_column("notifications", "emailed_at")
