"""Migration 0005 builds what backfill/models.py and Ticket.recovered describe, the cel table on PostgreSQL, and comes down cleanly."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect, text

from migration_helpers import inspect_database, schema_diffs

import ngcc112.backfill.models  # noqa: F401  (registers backfill_marks on Base.metadata)
from ngcc112.tickets.db import alembic_config, upgrade_sync


async def test_the_schema_at_head_matches_the_models(database_url):
    diffs = await schema_diffs(database_url)
    mine = [d for d in diffs if "backfill_marks" in repr(d) or "'recovered'" in repr(d)]
    assert mine == []


async def test_the_origin_row_and_on_postgresql_the_cel_table(database_url):
    def look(sync_connection):
        origin = sync_connection.execute(text("SELECT since FROM backfill_marks WHERE source = 'origin'")).all()
        tables = set(inspect(sync_connection).get_table_names())
        columns = ({c["name"] for c in inspect(sync_connection).get_columns("cel")} if "cel" in tables else set())
        return origin, tables, columns

    origin, tables, columns = await inspect_database(database_url, look)
    assert len(origin) == 1
    if database_url.startswith("postgresql"):
        # what cel_pgsql writes (cel/cel_pgsql.c knows these names) and the daemon reads
        assert {"id", "eventtype", "eventtime", "cid_name", "cid_num", "exten", "context", "channame",
                "appname", "appdata", "uniqueid", "linkedid", "peer", "extra"} <= columns
    else:
        assert "cel" not in tables  # the SQLite setup reads the CSV file


async def test_0005_goes_down_and_up_again(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"

    def state(sync_connection):
        insp = inspect(sync_connection)
        return "backfill_marks" in insp.get_table_names(), {c["name"] for c in insp.get_columns("tickets")}

    await asyncio.to_thread(upgrade_sync, url, "0005")
    marks, columns = await inspect_database(url, state)
    assert marks and "recovered" in columns
    await asyncio.to_thread(command.downgrade, alembic_config(url), "-1")
    marks, columns = await inspect_database(url, state)
    assert not marks and "recovered" not in columns
    await asyncio.to_thread(upgrade_sync, url, "head")
