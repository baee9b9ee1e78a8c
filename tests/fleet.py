"""Rows written straight into the control plane, for tests of finding tenants among many (the
list reads only rows, so provisioning each one would only make the tests slow)."""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import Tenant

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def tag() -> str:
    """A fresh word for a test's rows: searching for it finds those rows and no others."""
    return f"lst{uuid.uuid4().hex[:8]}"


async def seed(engine: AsyncEngine, rows: Iterable[dict[str, Any]]) -> list[str]:
    """Insert tenant rows (`id`, `name`, `status` at least); return their ids in order."""
    values = [
        {
            "is_active": True,
            "has_isolated_database": False,
            "admin_email": f"admin@{row['id']}.example.com",
            "created_on": EPOCH,
        }
        | row
        for row in rows
    ]
    async with engine.begin() as conn:
        await conn.execute(insert(Tenant), values)
    return [str(v["id"]) for v in values]
