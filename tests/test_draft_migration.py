"""Migration 0008 builds what IntakeDraft describes, and comes down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from migration_helpers import inspect_database, schema_diffs
from sqlalchemy import inspect

from ngcc112.tickets.db import alembic_config, upgrade_sync


async def test_the_schema_at_head_matches_the_draft_model(database_url):
    diffs = await schema_diffs(database_url)
    assert [d for d in diffs if "intake_drafts" in repr(d)] == []


async def test_0008_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    def columns(sync_connection):
        insp = inspect(sync_connection)
        if "intake_drafts" not in insp.get_table_names():
            return None
        return ({c["name"] for c in insp.get_columns("intake_drafts")},
                insp.get_pk_constraint("intake_drafts")["constrained_columns"])

    await asyncio.to_thread(upgrade_sync, url, "0008")
    assert await inspect_database(url, columns) == ({"ticket_id", "user_id", "values", "updated_at"},
                                                    ["ticket_id", "user_id"])
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    assert await inspect_database(url, columns) is None
    await asyncio.to_thread(upgrade_sync, url, "head")
    assert await inspect_database(url, columns) is not None
