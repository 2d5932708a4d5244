"""Migrations 0006 and 0007 build what PanelSession, the AML trust columns and users.language
describe, and come down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from migration_helpers import inspect_database, schema_diffs

import ngcc112.tickets.location_models  # noqa: F401  (registers aml_messages on Base.metadata)
from ngcc112.tickets.db import alembic_config, upgrade_sync


async def test_the_schema_at_head_matches_the_models(database_url):
    diffs = await schema_diffs(database_url)
    mine = [d for d in diffs if "panel_sessions" in repr(d) or "'authenticated_as'" in repr(d)
            or "'refused'" in repr(d) or "'language'" in repr(d)]
    assert mine == []


async def test_0006_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    def state(sync_connection):
        insp = inspect(sync_connection)
        return ("panel_sessions" in insp.get_table_names(),
                {c["name"] for c in insp.get_columns("aml_messages")} & {"authenticated_as", "refused"})

    await asyncio.to_thread(upgrade_sync, url, "0006")
    assert await inspect_database(url, state) == (True, {"authenticated_as", "refused"})
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    assert await inspect_database(url, state) == (False, set())
    await asyncio.to_thread(upgrade_sync, url, "head")
    assert await inspect_database(url, state) == (True, {"authenticated_as", "refused"})


async def test_0007_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    def language_column(sync_connection):
        return "language" in {c["name"] for c in inspect(sync_connection).get_columns("users")}

    await asyncio.to_thread(upgrade_sync, url, "0007")
    assert await inspect_database(url, language_column)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    assert not await inspect_database(url, language_column)
