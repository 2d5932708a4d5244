"""Migration 0004 builds exactly the tables location_models.py describes, and comes down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import ngcc112.tickets.location_models  # noqa: F401  (registers the tables on Base.metadata)
from ngcc112.tickets.db import alembic_config, make_engine, upgrade_sync
from ngcc112.tickets.models import Base

MINE = {"location_fixes", "aml_messages", "blocklist"}


def _tables_named(diff) -> set[str]:
    found: set[str] = set()
    for item in diff if isinstance(diff, list) else [diff]:
        for part in item[1:]:
            table = getattr(part, "table", None)
            name = table.name if table is not None else getattr(part, "name", None)
            if isinstance(name, str):
                found.add(name)
            elif isinstance(part, str):
                found.add(part)
    return found


async def test_the_schema_at_head_matches_the_location_models(database_url):
    engine = make_engine(database_url)
    try:
        async with engine.connect() as connection:
            def compare(sync_connection):
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return compare_metadata(context, Base.metadata)

            diffs = await connection.run_sync(compare)
    finally:
        await engine.dispose()
    assert [d for d in diffs if _tables_named(d) & MINE] == []


async def test_0004_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    async def tables() -> set[str]:
        engine = make_engine(url)
        try:
            async with engine.connect() as connection:
                return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    await asyncio.to_thread(upgrade_sync, url, "0004")
    assert MINE <= await tables()
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    assert not MINE & await tables()
    assert "tickets" in await tables()
    await asyncio.to_thread(upgrade_sync, url, "0004")
    assert MINE <= await tables()
