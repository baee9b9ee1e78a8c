"""Fleet rollouts in the control plane: the one owner of the `rollouts` table.

A row per rollout, written three times at most: the API claims it when it starts the rollout
(`claim`), the workflow's last activity stores the final snapshot (`finish`), and a row whose
workflow closed without that (terminated from outside) is settled when a new rollout asks
(`settle`). "One rollout at a time" is the partial unique index `uq_rollouts_one_open`: of two
racing claims exactly one inserts, whatever API process they come from.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, func, select, text, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from core.models import Base

UNIQUE_VIOLATION = "23505"


class Rollout(Base):
    __tablename__ = "rollouts"
    __table_args__ = (
        # At most one row without finished_at: the running rollout.
        Index(
            "uq_rollouts_one_open",
            text("(true)"),
            unique=True,
            postgresql_where=text("finished_at IS NULL"),
        ),
        Index("ix_rollouts_created_on", text("created_on DESC")),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    workflow_id: Mapped[str] = mapped_column(String(200))
    target_revision: Mapped[str] = mapped_column(String(64))
    total: Mapped[int] = mapped_column(Integer)
    initiated_by: Mapped[str | None] = mapped_column(String(64))
    created_on: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The final status and snapshot (FleetProgress as JSON), once it has ended.
    status: Mapped[str | None] = mapped_column(String(20))
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # Why it ended without its own final snapshot (terminated from outside).
    error: Mapped[str | None] = mapped_column(Text)


def new_rollout_id(now: datetime | None = None) -> str:
    """Short, readable and sortable: `20261123-2214-3fa9` (UTC minute, then 4 hex digits)."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M}-{uuid.uuid4().hex[:4]}"


class RolloutRunning(Exception):
    """Another rollout has not ended (the API answers 409)."""

    def __init__(self, rollout: Rollout) -> None:
        super().__init__(
            f"Rollout {rollout.id} (to {rollout.target_revision}) is still running: "
            "wait for it to end, or cancel it"
        )
        # Plain values: the row itself expires with the transaction that is rolled back.
        self.rollout_id = rollout.id
        self.workflow_id = rollout.workflow_id


async def open_rollout(session: AsyncSession) -> Rollout | None:
    return await session.scalar(select(Rollout).where(Rollout.finished_at.is_(None)))


async def claim(session: AsyncSession, values: dict[str, Any]) -> None:
    """Insert the new rollout's row in the caller's transaction (RolloutRunning if one is open;
    the transaction is then rolled back). The caller starts the workflow before it commits."""
    try:
        async with session.begin_nested():
            session.add(Rollout(**values))
    except IntegrityError as err:
        if getattr(err.orig, "sqlstate", None) != UNIQUE_VIOLATION:
            raise
        running = await open_rollout(session)
        if running is None:  # ended meanwhile: the caller may try again
            raise
        raise RolloutRunning(running) from err


async def finish(
    conn: AsyncConnection, rollout_id: str, status: str, summary: dict[str, Any]
) -> bool:
    """Store the final snapshot (the workflow's last step); repeated: harmless. False if no row
    (a rollout started outside the API, e.g. from the CLI)."""
    finished = await conn.scalar(
        update(Rollout)
        .where(Rollout.id == rollout_id)
        .values(
            status=status,
            summary=summary,
            finished_at=func.coalesce(Rollout.finished_at, func.now()),
        )
        .returning(Rollout.id)
    )
    return finished is not None


async def settle(session: AsyncSession, rollout_id: str, error: str) -> None:
    """An open row whose workflow has closed without `finish` (terminated, timed out, or its last
    write failed): ended now, as Failed with `error`. Conditional: a `finish` that got there
    first wins."""
    await session.execute(
        update(Rollout)
        .where(Rollout.id == rollout_id, Rollout.finished_at.is_(None))
        .values(status="Failed", error=error, finished_at=func.now())
    )
    await session.commit()
