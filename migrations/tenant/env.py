"""Alembic environment of a tenant's own schema (run by the migrate activity, in-process).

The caller passes the connection and the schema: `public` of an isolated tenant database, or the
tenant's schema in the shared tenants database. The version table lives in that schema too.
"""

from alembic import context
from sqlalchemy import Connection, text

from core.naming import quote_ident

config = context.config


def run_migrations(connection: Connection, schema: str) -> None:
    # SET LOCAL: the search path ends with the caller's transaction.
    connection.execute(text(f"SET LOCAL search_path TO {quote_ident(schema)}"))
    context.configure(connection=connection, version_table_schema=schema)
    with context.begin_transaction():
        context.run_migrations()


shared = config.attributes.get("connection")
if shared is None or context.is_offline_mode():
    raise SystemExit("tenant migrations run inside the worker; see activities/tenant_storage.py")
run_migrations(shared, config.attributes.get("schema", "public"))
