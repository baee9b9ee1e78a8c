"""Prepare the control plane: create its database, apply migrations, ensure the root tenant/user.

`python -m core.setup` (or `make migrate`) with DATABASE_URL and ROOT_PASSWORD set. Idempotent:
the dev launcher runs it at every start.
"""

import asyncio
import logging

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from core import logs
from core.database import async_url, create_oneshot_engine, ensure_database, with_database
from core.migrate import upgrade
from core.models import Tenant, User
from core.passwords import hash_password, verify_password
from core.settings import Settings, get_settings
from core.status import ROOT_TENANT_ID, TenantStatus

log = logging.getLogger("tenantflow.setup")


async def prepare_control_plane(settings: Settings) -> None:
    if not settings.database_url:
        raise SystemExit("DATABASE_URL is not set")
    if settings.root_password is None:
        raise SystemExit("ROOT_PASSWORD is not set")
    url = settings.database_url
    name = async_url(url).database or "postgres"
    # CREATE DATABASE runs from the maintenance database: ours may not exist yet.
    server = with_database(url, "postgres")
    if await ensure_database(server, name):
        log.info("created control-plane database %s", name)
    if await ensure_database(server, settings.tenants_database):
        log.info("created shared tenants database %s", settings.tenants_database)

    engine = create_oneshot_engine(url)
    try:
        async with engine.begin() as conn:
            revision = await upgrade(conn, "controlplane")
        log.info("control-plane schema at revision %s", revision)
        await _ensure_root(engine, settings)
    finally:
        await engine.dispose()


async def _ensure_root(engine: AsyncEngine, settings: Settings) -> None:
    assert settings.root_password is not None
    password = settings.root_password.get_secret_value()
    async with engine.begin() as conn:
        await conn.execute(
            insert(Tenant)
            .values(
                id=ROOT_TENANT_ID,
                name="Root",
                status=TenantStatus.ACTIVE,
                is_active=True,
                has_isolated_database=False,
            )
            .on_conflict_do_nothing()
        )
        existing = (
            await conn.execute(
                select(User.id, User.password_hash).where(
                    User.tenant_id == ROOT_TENANT_ID, User.email == settings.root_email
                )
            )
        ).first()
        if existing is None:
            await conn.execute(
                insert(User)
                .values(
                    tenant_id=ROOT_TENANT_ID,
                    email=settings.root_email,
                    password_hash=hash_password(password),
                    roles=["root"],
                )
                .on_conflict_do_nothing()
            )
            log.info("created root user %s", settings.root_email)
        elif not verify_password(password, existing.password_hash):
            # ROOT_PASSWORD is the source of truth for the bootstrap user.
            await conn.execute(
                update(User)
                .where(User.id == existing.id)
                .values(password_hash=hash_password(password))
            )
            log.info("updated root user %s's password from ROOT_PASSWORD", settings.root_email)


def main() -> None:
    logs.configure()
    asyncio.run(prepare_control_plane(get_settings()))


if __name__ == "__main__":
    main()
