"""What PostgreSQL holds for a tenant, counted where it lives, and the Temporal history of a run."""

from sqlalchemy import text
from temporalio.client import Client

from core.database import create_oneshot_engine, with_database
from core.naming import storage_name
from core.settings import Settings


async def tenant_footprint(settings: Settings, tenant_id: str) -> dict[str, int]:
    """Its databases, schemas, admin users and control-plane rows, counted in PostgreSQL."""
    assert settings.database_url
    name = storage_name(settings.tenant_storage_prefix, tenant_id)
    queries = [
        ("database", "postgres", "SELECT count(*) FROM pg_database WHERE datname = :v"),
        (
            "schema",
            settings.tenants_database,
            "SELECT count(*) FROM pg_namespace WHERE nspname = :v",
        ),
        ("users", None, "SELECT count(*) FROM users WHERE tenant_id = :v"),
        ("rows", None, "SELECT count(*) FROM tenants WHERE id = :v"),
    ]
    found: dict[str, int] = {}
    for what, database, sql in queries:
        url = with_database(settings.database_url, database) if database else settings.database_url
        engine = create_oneshot_engine(url)
        try:
            async with engine.connect() as conn:
                value = tenant_id if what in ("users", "rows") else name
                found[what] = int(await conn.scalar(text(sql), {"v": value}) or 0)
        finally:
            await engine.dispose()
    return found


async def fleet_footprint(settings: Settings, tenant_ids: list[str]) -> dict[str, dict[str, int]]:
    """`tenant_footprint` of many tenants at once: one query per kind, not per tenant."""
    assert settings.database_url
    names = {storage_name(settings.tenant_storage_prefix, t): t for t in tenant_ids}
    queries = [
        ("database", "postgres", "SELECT datname FROM pg_database WHERE datname = ANY(:v)"),
        (
            "schema",
            settings.tenants_database,
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(:v)",
        ),
        ("users", None, "SELECT tenant_id FROM users WHERE tenant_id = ANY(:v)"),
        ("rows", None, "SELECT id FROM tenants WHERE id = ANY(:v)"),
    ]
    found = {t: {what: 0 for what, _, _ in queries} for t in tenant_ids}
    for what, database, sql in queries:
        url = with_database(settings.database_url, database) if database else settings.database_url
        values = tenant_ids if what in ("users", "rows") else list(names)
        engine = create_oneshot_engine(url)
        try:
            async with engine.connect() as conn:
                for value in (await conn.scalars(text(sql), {"v": values})).all():
                    found[names.get(value, value)][what] += 1
        finally:
            await engine.dispose()
    return found


def expected_footprint(isolated: bool) -> dict[str, int]:
    """An Active tenant: one database or one schema, one admin user, one row."""
    return {"database": int(isolated), "schema": int(not isolated), "users": 1, "rows": 1}


NOTHING_LEFT = {"database": 0, "schema": 0, "users": 0}


async def activity_starts(client: Client, workflow_id: str, activity: str) -> list[tuple[int, str]]:
    """(attempt, worker identity) of each recorded start of `activity` in the run's history."""
    scheduled: set[int] = set()
    starts = []
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.HasField("activity_task_scheduled_event_attributes"):
            attributes = event.activity_task_scheduled_event_attributes
            if attributes.activity_type.name == activity:
                scheduled.add(event.event_id)
        elif event.HasField("activity_task_started_event_attributes"):
            started = event.activity_task_started_event_attributes
            if started.scheduled_event_id in scheduled:
                starts.append((started.attempt, started.identity))
    return starts
