"""Tenant schema migrations in one round trip: Alembic's own scripts, rendered once as SQL.

Alembic stays the single source of truth: the SQL is what `alembic upgrade|downgrade
<from>:<to> --sql` would emit for the tenant environment (its version table included), rendered
in-process from the same revision files the first time a pair is needed. A schema with no
version table yet gets everything up to head in one statement batch under `SET LOCAL
search_path` — the same objects, in the same schema, with the same `alembic_version` row as an
online upgrade, so later revisions apply to it unchanged. A fleet migration (MigrateTenant) runs
the batch from the revision it finds to its target, up or down, the same way. Provisioning a
schema found at an older revision goes through the normal Alembic upgrade.

So tenant revisions must render offline: DDL and plain statements, no decisions taken on what
a query returns at run time (tests/integration/test_tenant_ddl.py compares both ways).

Measured: an online upgrade took 33-165 ms of statements, round trips and Python, under the
process-wide Alembic turn; the batch runs in a few ms and needs no turn at all.
"""

import io

from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from core.migrate import alembic_config, alembic_turn, current_revision
from core.naming import quote_ident
from core.schema import is_downgrade, tenant_revisions

_rendered: dict[tuple[str | None, str], str] = {}


def _render(start: str | None, destination: str) -> str:
    """SQL taking a schema from `start` (None: nothing) to `destination`, up or down, version
    table included: what `alembic upgrade|downgrade start:destination --sql` emits. Uses
    Alembic's module globals: callers hold the Alembic turn."""
    cfg = alembic_config("tenant")
    script = ScriptDirectory.from_config(cfg)
    down = is_downgrade(start, destination)

    def steps(rev: object, _: MigrationContext) -> object:
        if down:
            return script._downgrade_revs(destination, rev)  # type: ignore[arg-type]
        return script._upgrade_revs(destination, rev)  # type: ignore[arg-type]

    out = io.StringIO()
    with EnvironmentContext(
        cfg,
        script,
        fn=steps,
        as_sql=True,
        starting_rev=start,
        destination_rev=destination,
    ) as env:
        env.configure(dialect_name="postgresql", output_buffer=out, transactional_ddl=False)
        with env.begin_transaction():
            env.run_migrations()
    return out.getvalue()


async def migration_sql(start: str | None, destination: str) -> str:
    """Rendered once per process and pair (taking the Alembic turn that once); take it before
    opening any connection."""
    key = (start, destination)
    if key not in _rendered:
        async with alembic_turn():
            if key not in _rendered:
                _rendered[key] = _render(start, destination)
    return _rendered[key]


async def fresh_schema_sql() -> tuple[str, str]:
    """(head revision, SQL from nothing to head)."""
    head = tenant_revisions()[0]
    return head, await migration_sql(None, head)


async def upgrade_fresh(
    conn: AsyncConnection, schema: str, rendered: tuple[str, str]
) -> str | None:
    """In the caller's transaction: if `schema` has no Alembic version yet, create everything at
    head in one batch and return None; else the revision it is at (below head: run the Alembic
    upgrade instead)."""
    found = await current_revision(conn, schema)
    if found is None:
        await run_batch(conn, schema, rendered[1])
    return found


async def run_batch(conn: AsyncConnection, schema: str, sql: str) -> None:
    """Run rendered SQL on `schema`, in the caller's transaction."""
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    # The simple-query protocol runs the whole batch in one round trip (a prepared statement
    # takes one command); SET LOCAL ends with the caller's transaction.
    await driver.execute(f"SET LOCAL search_path TO {quote_ident(schema)};\n{sql}")
