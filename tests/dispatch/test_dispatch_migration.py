"""Migration 0003 builds exactly the tables dispatch_models.py describes, and comes down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from ngcc112.tickets.db import alembic_config, make_engine, upgrade_sync
from ngcc112.tickets.models import Base
import ngcc112.tickets.dispatch_models  # noqa: F401  (registers the tables on Base.metadata)

MINE = {"agencies", "agency_members", "dispatches", "admin_log"}


def _table_of(diff) -> str | None:
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item[1:]:
            name = getattr(part, "name", None) if not hasattr(part, "table") else part.table.name
            if name:
                return name
            if isinstance(part, str):
                return part
    return None


async def _diffs(url: str) -> list:
    engine = make_engine(url)
    try:
        async with engine.connect() as connection:
            def compare(sync_connection):
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return compare_metadata(context, Base.metadata)

            diffs = await connection.run_sync(compare)
    finally:
        await engine.dispose()
    return [d for d in diffs if _table_of(d) in MINE]


async def test_the_schema_at_head_matches_the_models(database_url):
    assert await _diffs(database_url) == []


async def test_0003_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    async def tables() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    await asyncio.to_thread(upgrade_sync, url, "0003")
    assert MINE <= await tables()
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    assert not MINE & await tables()
    assert {"tickets", "users", "audit_log"} <= await tables()
    await asyncio.to_thread(upgrade_sync, url, "0003")
    assert await _diffs(url) == []
