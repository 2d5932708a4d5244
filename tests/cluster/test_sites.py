"""Sites: every ticket carries the site whose Asterisk took the call; tickets from before are ``main``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from migration_helpers import inspect_database, schema_diffs
from sqlalchemy import inspect, select, text

from ngcc112.ami.events import CallArrived
from ngcc112.tickets.db import alembic_config, make_engine, make_sessions, upgrade_sync
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.store import TicketStore

AT = datetime(2026, 12, 7, 20, 0, tzinfo=UTC)


def arrived(call_id: str) -> CallArrived:
    return CallArrived(call_id, AT, f"PJSIP/caller-{call_id}", call_id, "0812", "Budi", "112")


async def test_the_schema_at_head_has_the_site_column(database_url: str) -> None:
    diffs = await schema_diffs(database_url)
    assert [d for d in diffs if "site" in repr(d)] == []


async def test_the_store_stamps_its_site_on_the_tickets_it_opens(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        sessions = make_sessions(engine)
        await TicketStore(sessions, site="north").record(arrived("c.1"))
        await TicketStore(sessions).record(arrived("c.2"))
        async with sessions() as session:
            sites = {row[0]: row[1] for row in await session.execute(select(Ticket.linkedid, Ticket.site))}
        assert sites == {"c.1": "north", "c.2": "main"}
    finally:
        await engine.dispose()


async def test_0010_gives_old_tickets_the_main_site_and_comes_down(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    await asyncio.to_thread(upgrade_sync, url, "0008")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO tickets (linkedid, state, arrived_at, variables, abandoned, withdrawn,"
                     " ended_unobserved, score_reasons, intake, created_at, updated_at) VALUES ('old.1', 'closed',"
                     " '2026-01-01 00:00:00', '{}', 0, 0, 0, '[]', '{}', '2026-01-01 00:00:00', '2026-01-01 00:00:00')")
            )
    finally:
        await engine.dispose()
    await asyncio.to_thread(upgrade_sync, url, "0009")

    def sites(sync_connection):  # type: ignore[no-untyped-def]
        if "site" not in {c["name"] for c in inspect(sync_connection).get_columns("tickets")}:
            return None
        return sync_connection.execute(text("SELECT linkedid, site FROM tickets")).all()

    assert await inspect_database(url, sites) == [("old.1", "main")]
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0008")
    assert await inspect_database(url, sites) is None


def test_the_tickets_cli_names_a_site_other_than_main() -> None:
    from ngcc112.cli.records import format_ticket_line

    row = {"id": 1, "arrived_at": "2026-12-07T20:00:00+00:00", "state": "new", "caller_number": "0812",
           "abandoned": False, "answered_at": None, "ended_at": None}
    assert "[site" not in format_ticket_line({**row, "site": "main"})
    assert format_ticket_line({**row, "site": "north"}).endswith("waiting [site north]")
