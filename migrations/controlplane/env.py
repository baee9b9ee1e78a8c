"""Alembic environment of the control-plane database.

Run in-process by `core.setup` (which passes a connection), or by the `alembic` command with
DATABASE_URL set. With a connection supplied this must not call `asyncio.run` (we are inside the
caller's event loop) nor `fileConfig` (it would silence the caller's loggers).
"""

import asyncio

from alembic import context
from sqlalchemy import Connection

from core.database import create_oneshot_engine
from core.models import Base
from core.settings import get_settings

config = context.config
target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()


async def run_standalone() -> None:
    url = get_settings().database_url
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    engine = create_oneshot_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) mode is not supported")

shared = config.attributes.get("connection")
if shared is None:
    asyncio.run(run_standalone())
else:
    run_migrations(shared)
