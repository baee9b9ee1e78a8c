"""GET /api/tenants: filters, search, sorts and keyset paging; GET /api/tenants/stats.

Rows are written straight into the control plane (the list reads only rows); each test tags its
rows with a fresh word and searches for it, so other tests' tenants never get in the way.
"""

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.models import Tenant
from core.status import TenantStatus
from tests.fleet import EPOCH, seed, tag

pytestmark = pytest.mark.integration

S = TenantStatus


async def all_pages(api: httpx.AsyncClient, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = params | ({"cursor": cursor} if cursor else {})
        response = await api.get("/api/tenants", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["nextCursor"]
        if cursor is None:
            return pages


async def ids(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/api/tenants", params=params | {"limit": 200})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["nextCursor"] is None
    assert body["total"] == len(body["items"])
    return [item["id"] for item in body["items"]]


async def test_pages_follow_the_sort_and_break_ties_by_id(
    api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    # Three rows share one creation time: the id orders them, so paging cannot skip any.
    created = [EPOCH, EPOCH + timedelta(seconds=1), EPOCH + timedelta(seconds=1)] * 3
    names = ["Delta", "alpha", "Charlie", "bravo", "Echo", "foxtrot", "Golf", "hotel", "India"]
    statuses = [S.ACTIVE, S.FAILED, S.PENDING] * 3
    seeded = await seed(
        control_plane,
        (
            {"id": f"{word}-{i}", "name": f"{n} {word}", "status": s, "created_on": c}
            for i, (n, s, c) in enumerate(zip(names, statuses, created, strict=True))
        ),
    )
    rows = dict(zip(seeded, zip(created, statuses, strict=True), strict=True))

    expected = {
        "created": sorted(seeded, key=lambda i: (rows[i][0], i), reverse=True),
        "-created": sorted(seeded, key=lambda i: (rows[i][0], i)),
        "status": sorted(
            seeded, key=lambda i: (rows[i][1], -rows[i][0].timestamp(), [-ord(c) for c in i])
        ),
    }
    for sort, order in expected.items():
        pages = await all_pages(api, q=word, sort=sort, limit=2)
        assert [len(p) for p in pages] == [2, 2, 2, 2, 1], sort
        assert [i for p in pages for i in p] == order, sort
    # Names: the database's collation decides; the pages must agree with one full read.
    by_name = await ids(api, q=word, sort="name")
    assert sorted(by_name) == sorted(seeded)
    pages = await all_pages(api, q=word, sort="name", limit=4)
    assert [i for p in pages for i in p] == by_name
    reversed_pages = await all_pages(api, q=word, sort="-name", limit=4)
    assert [i for p in reversed_pages for i in p] == by_name[::-1]


async def test_paging_is_stable_under_inserts(
    api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    seeded = await seed(
        control_plane,
        (
            {
                "id": f"{word}-{i:02}",
                "name": f"n{i:02} {word}",
                "status": S.ACTIVE,
                "created_on": EPOCH + timedelta(minutes=i),
            }
            for i in range(0, 20, 2)
        ),
    )
    for round_, sort in enumerate(["created", "name", "status", "-created"]):
        seen: list[str] = []
        cursor = None
        inserted = 0
        while True:
            params: dict[str, Any] = {"q": word, "sort": sort, "limit": 3}
            if cursor:
                params["cursor"] = cursor
            body = (await api.get("/api/tenants", params=params)).json()
            seen += [item["id"] for item in body["items"]]
            cursor = body["nextCursor"]
            if cursor is None:
                break
            # Between pages, rows land everywhere in the order: newest, oldest, in between.
            inserted += 1
            await seed(
                control_plane,
                [
                    {
                        "id": f"{word}-r{round_}{inserted}{suffix}",
                        "name": f"n{minutes:02}x {word}",
                        "status": S.ACTIVE,
                        "created_on": EPOCH + timedelta(minutes=minutes, seconds=30),
                    }
                    for suffix, minutes in [("a", -1), ("b", 7), ("c", 30)]
                ],
            )
        assert len(seen) == len(set(seen)), f"{sort}: a tenant was repeated"
        assert set(seeded) <= set(seen), f"{sort}: a tenant was skipped"


async def test_filters_by_status_hide_deleted_and_search_id_name_and_email(
    api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    await seed(
        control_plane,
        [
            {"id": f"{word}-a", "name": "Acme 100%_off", "status": S.ACTIVE},
            {"id": "lst-other-b", "name": f"Beta {word.upper()}", "status": S.FAILED},
            {
                "id": "lst-other-c",
                "name": "Gamma",
                "status": S.CANCELLED,
                "admin_email": f"ops@{word}.example.com",
            },
            {"id": f"{word}-w", "name": "Wildcard 100 xoff", "status": S.ACTIVE},
            {"id": f"{word}-d", "name": "Gone", "status": S.DELETED},
            {"id": f"{word}-p", "name": "Pending", "status": S.PENDING},
        ],
    )
    assert set(await ids(api, q=word)) == {
        f"{word}-a",
        "lst-other-b",
        "lst-other-c",
        f"{word}-p",
        f"{word}-w",
    }
    assert await ids(api, q=word, status="Deleted") == [f"{word}-d"]
    assert set(await ids(api, q=word, status=["Failed", "Cancelled"])) == {
        "lst-other-b",
        "lst-other-c",
    }
    assert set(await ids(api, q=word, status=["Active", "Deleted"])) == {
        f"{word}-a",
        f"{word}-d",
        f"{word}-w",
    }
    # LIKE's wildcards are plain characters in a search.
    assert await ids(api, q=f"100%_off {word}") == []
    percent = await ids(api, q="100%_off", status="Active")
    assert f"{word}-a" in percent
    assert f"{word}-w" not in percent  # "100 xoff" would match an unescaped pattern
    assert await ids(api, q=f"{word}", status="Pending") == [f"{word}-p"]


async def test_stats_count_every_status(api: httpx.AsyncClient, control_plane: AsyncEngine) -> None:
    word = tag()
    await seed(
        control_plane,
        [{"id": f"{word}-{s.lower()}", "name": word, "status": s} for s in TenantStatus],
    )
    # Other tests' tenants may be moving: wait until a read agrees with the table.
    for _ in range(50):
        response = await api.get("/api/tenants/stats")
        assert response.status_code == 200, response.text
        stats = response.json()
        async with control_plane.connect() as conn:
            rows = (await conn.execute(select(Tenant.status))).scalars().all()
        counted = {s.value: rows.count(s.value) for s in TenantStatus}
        if stats["byStatus"] == counted:
            break
    else:
        raise AssertionError(f"stats {stats} never matched the table {counted}")
    assert stats["total"] == len(rows)
    assert all(stats["byStatus"][s] >= 1 for s in TenantStatus)


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 201},
        {"limit": 0},
        {"sort": "size"},
        {"status": "Sleeping"},
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJzIjoibmFtZSIsImsiOlsiYSIsImIiXX0", "sort": "created"},
    ],
)
async def test_bad_list_parameters_are_422_naming_the_parameter(
    api: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await api.get("/api/tenants", params=params)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][:2] == ["query", next(iter(params))]


async def test_a_cursor_survives_its_row_being_deleted(
    api: httpx.AsyncClient, control_plane: AsyncEngine
) -> None:
    word = tag()
    seeded = await seed(
        control_plane,
        (
            {"id": f"{word}-{i}", "name": word, "status": S.ACTIVE, "created_on": EPOCH}
            for i in range(5)
        ),
    )
    first = (await api.get("/api/tenants", params={"q": word, "limit": 2})).json()
    async with control_plane.begin() as conn:
        await conn.execute(delete(Tenant).where(Tenant.id == first["items"][-1]["id"]))
    rest = await all_pages(api, q=word, cursor=first["nextCursor"], limit=2)
    shown = [item["id"] for item in first["items"]] + [i for p in rest for i in p]
    assert shown == sorted(seeded, reverse=True)
