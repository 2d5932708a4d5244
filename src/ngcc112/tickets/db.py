"""Database engine, sessions and schema upgrades (alembic) for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager as AsyncContextManager
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import CursorResult, Result, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine, AsyncSession

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

#: Seconds before a silent PostgreSQL counts as away (see make_engine).
CONNECT_TIMEOUT = 5.0
STATEMENT_TIMEOUT = 10.0
POOL_TIMEOUT = 5.0


def affected(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE touched (``session.execute`` types it as a plain Result)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def make_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 15})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: object) -> None:  # pragma: no cover - driver glue
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # A server that stops answering (not refusing: silent) is noticed in seconds, not minutes:
    # connecting gives up after CONNECT_TIMEOUT, a statement after STATEMENT_TIMEOUT, and
    # waiting for a pooled connection after POOL_TIMEOUT.
    return create_async_engine(
        url,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=POOL_TIMEOUT,
        connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": STATEMENT_TIMEOUT},
    )


def make_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (alembic); safe to run again."""
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade_sync, url, revision)


async def answers(connect: Callable[[], AsyncContextManager[Any]], timeout: float = 5.0) -> bool:
    """Does the database answer ``SELECT 1`` within ``timeout`` seconds? ``connect`` is an
    engine's ``connect`` or a session factory: anything ``async with connect() as c``."""
    from sqlalchemy import text

    async def probe() -> None:
        async with connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(probe(), timeout)
    except Exception:
        return False
    return True
