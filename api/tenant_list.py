"""Finding tenants among thousands: filters, search and keyset paging over the control plane.

Only the control-plane row is read (no Temporal call per row): a row left in flight by a run
stopped from outside is settled by the background sweep, not here.

Paging is by keyset, not offset: the cursor carries the sort key and id of the last row shown,
and the next page starts strictly after it. A tenant inserted meanwhile never shifts rows from
one page to the next, so no tenant is skipped or repeated across pages.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core.models import Tenant
from core.status import TenantStatus

MAX_LIMIT = 200
DEFAULT_LIMIT = 50


class Sort(StrEnum):
    """`created` is newest first; a leading `-` reverses a key's natural order."""

    CREATED = "created"
    CREATED_REVERSED = "-created"
    NAME = "name"
    NAME_REVERSED = "-name"
    STATUS = "status"
    STATUS_REVERSED = "-status"


# Each sort's keys, (column, descending); the id always breaks ties, so the order is total.
# Every one is served by an index of revision 0006 (ix_tenants_created_id and friends).
_KEYS: dict[str, list[tuple[InstrumentedAttribute[Any], bool]]] = {
    "created": [(Tenant.created_on, True), (Tenant.id, True)],
    "name": [(Tenant.name, False), (Tenant.id, False)],
    "status": [(Tenant.status, False), (Tenant.created_on, True), (Tenant.id, True)],
}


class BadCursor(ValueError):
    pass


@dataclass(frozen=True)
class TenantFilter:
    statuses: frozenset[TenantStatus] = frozenset()
    q: str = ""

    def where(self) -> list[ColumnElement[bool]]:
        # Deleted tenants are hidden unless asked for by status.
        statuses = self.statuses or frozenset(TenantStatus) - {TenantStatus.DELETED}
        clauses: list[ColumnElement[bool]] = [Tenant.status.in_(sorted(statuses))]
        if self.q:
            pattern = f"%{_escape_like(self.q)}%"
            # Three trigram indexes (revision 0006): PostgreSQL ORs their bitmaps.
            clauses.append(
                or_(
                    Tenant.id.ilike(pattern, escape="\\"),
                    Tenant.name.ilike(pattern, escape="\\"),
                    Tenant.admin_email.ilike(pattern, escape="\\"),
                )
            )
        return clauses


@dataclass(frozen=True)
class Page:
    items: list[Tenant]
    total: int
    next_cursor: str | None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _keys(sort: Sort) -> list[tuple[InstrumentedAttribute[Any], bool]]:
    reverse = sort.startswith("-")
    return [(column, desc != reverse) for column, desc in _KEYS[sort.lstrip("-")]]


def _encode(sort: Sort, row: Tenant) -> str:
    values = [_plain(getattr(row, column.key)) for column, _ in _keys(sort)]
    raw = json.dumps({"s": str(sort), "k": values}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _decode(sort: Sort, cursor: str) -> list[Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        keys = _keys(sort)
        if data["s"] != sort or len(data["k"]) != len(keys):
            raise BadCursor("the cursor belongs to another sort order; start from the first page")
        values: list[Any] = []
        for (column, _), value in zip(keys, data["k"], strict=True):
            if column.key == "created_on":
                values.append(datetime.fromisoformat(value))
            elif isinstance(value, str):
                values.append(value)
            else:
                raise BadCursor("malformed cursor")
        return values
    except BadCursor:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error) as err:
        raise BadCursor("malformed cursor") from err


def _after(sort: Sort, values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after `values` in the sort's order."""
    keys = _keys(sort)
    if len({desc for _, desc in keys}) == 1:  # one direction: a row comparison, index-friendly
        row = tuple_(*(column for column, _ in keys))
        bound = tuple_(*values)
        return row < bound if keys[0][1] else row > bound
    clauses: list[ColumnElement[bool]] = []
    for i, (column, desc) in enumerate(keys):
        equal = [c == v for (c, _), v in zip(keys[:i], values[:i], strict=True)]
        clauses.append(and_(*equal, column < values[i] if desc else column > values[i]))
    return or_(false(), *clauses)


def _ordered(query: Select[Any], sort: Sort) -> Select[Any]:
    return query.order_by(*(c.desc() if desc else c.asc() for c, desc in _keys(sort)))


async def list_tenants(
    session: AsyncSession,
    where: TenantFilter,
    sort: Sort = Sort.CREATED,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    clauses = where.where()
    total = await session.scalar(select(func.count()).select_from(Tenant).where(*clauses))
    query = select(Tenant).where(*clauses)
    if cursor:
        query = query.where(_after(sort, _decode(sort, cursor)))
    rows = list((await session.scalars(_ordered(query, sort).limit(limit + 1))).all())
    next_cursor = _encode(sort, rows[limit - 1]) if len(rows) > limit else None
    return Page(rows[:limit], total or 0, next_cursor)


async def count_by_status(session: AsyncSession) -> dict[TenantStatus, int]:
    rows = await session.execute(select(Tenant.status, func.count()).group_by(Tenant.status))
    counts = dict.fromkeys(TenantStatus, 0)
    for status, count in rows:
        counts[TenantStatus(status)] = count
    return counts
