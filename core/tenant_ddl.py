"""A fresh tenant schema in one round trip: Alembic's own upgrade, rendered once as SQL.

Alembic stays the single source of truth: the SQL is what `alembic upgrade head --sql` would
emit for the tenant environment (its version table included), rendered in-process from the same
revision files the first time it is needed. A schema with no version table yet gets it in one
statement batch under `SET LOCAL search_path` — the same objects, in the same schema, with the
same `alembic_version` row as an online upgrade, so later revisions apply to it unchanged. Any
other schema (at an older revision) goes through the normal Alembic upgrade.

Measured: an online upgrade took 33-165 ms of statements, round trips and Python, under the
process-wide Alembic turn; the batch runs in a few ms and needs no turn at all.
"""

import io

from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection

from core.migrate import alembic_config, alembic_turn, current_revision
from core.naming import quote_ident

_rendered: tuple[str, str] | None = None


def _render() -> tuple[str, str]:
    """(head revision, SQL from nothing to head). Uses Alembic's module globals: callers hold
    the Alembic turn."""
    cfg = alembic_config("tenant")
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    assert head is not None
    out = io.StringIO()
    with EnvironmentContext(
        cfg,
        script,
        fn=lambda rev, _: script._upgrade_revs("head", rev),
        as_sql=True,
        starting_rev=None,
        destination_rev="head",
    ) as env:
        env.configure(dialect_name="postgresql", output_buffer=out, transactional_ddl=False)
        with env.begin_transaction():
            env.run_migrations()
    return head, out.getvalue()


async def fresh_schema_sql() -> tuple[str, str]:
    """Rendered once per process (taking the Alembic turn that once); take it before opening
    any connection."""
    global _rendered
    if _rendered is None:
        async with alembic_turn():
            if _rendered is None:
                _rendered = _render()
    return _rendered


async def upgrade_fresh(conn: AsyncConnection, schema: str, rendered: tuple[str, str]) -> bool:
    """In the caller's transaction: if `schema` has no Alembic version yet, create everything at
    head in one batch and return True; else False (run the Alembic upgrade instead)."""
    if await current_revision(conn, schema) is not None:
        return False
    _, sql = rendered
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    # The simple-query protocol runs the whole batch in one round trip (a prepared statement
    # takes one command); SET LOCAL ends with the caller's transaction.
    await driver.execute(f"SET LOCAL search_path TO {quote_ident(schema)};\n{sql}")
    return True
