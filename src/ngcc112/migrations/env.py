"""Alembic environment for ngcc112 (async engines: aiosqlite, asyncpg)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from ngcc112.tickets.models import Base
import ngcc112.tickets.location_models  # noqa: E402,F401  (location_fixes, aml_messages, blocklist)
import ngcc112.tickets.dispatch_models  # noqa: F401,E402  (agencies, dispatches, admin log)
import ngcc112.tickets.cluster_models  # noqa: F401,E402  (cluster_nodes)

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic: sqlalchemy.url is not set (ngcc112.tickets.db.upgrade sets it)")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_configure)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_online())
