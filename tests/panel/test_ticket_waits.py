"""The screen-pop's ticket wait is woken by the store's commit, not by polling the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from ngcc112.hub import Hub
from ngcc112.panel import ticket_waits
from ngcc112.panel.ticket_waits import TicketWaits
from ngcc112.tickets.store import TicketChanged

AT = datetime(2026, 12, 8, tzinfo=UTC)
#: Only a bound so a hang fails instead of blocking; never a timed assertion.
PATIENCE = 10.0


class Table:
    """A ticket table read by the wait: counts its reads; a ticket appears when the test commits it."""

    def __init__(self) -> None:
        self.rows: dict[str, str] = {}
        self.reads = 0

    async def read(self, linkedid: str) -> str | None:
        self.reads += 1
        return self.rows.get(linkedid)


async def waiting_after_a_miss(waits: TicketWaits, table: Table) -> asyncio.Task[str | None]:
    """A wait for call-1's ticket that has read once and found nothing yet."""
    waiting = asyncio.create_task(waits.until_found("call-1", lambda: table.read("call-1"), PATIENCE))
    async with asyncio.timeout(PATIENCE):
        while table.reads < 1:
            await asyncio.sleep(0)
    return waiting


def opened(linkedid: str) -> TicketChanged:
    return TicketChanged(1, linkedid, "opened", AT, "new", {}, opened=True)


async def test_a_wait_reads_once_then_once_more_when_the_commit_is_published(monkeypatch) -> None:
    monkeypatch.setattr(ticket_waits, "RECHECK", 3600.0)  # only the commit can wake it
    hub, table = Hub(), Table()
    waits = TicketWaits(hub)
    await waits.start()
    try:
        waiting = await waiting_after_a_miss(waits, table)
        table.rows["call-1"] = "ticket #1"
        hub.publish(opened("call-2"))  # another call's commit does not wake it
        hub.publish(opened("call-1"))
        async with asyncio.timeout(PATIENCE):
            assert await waiting == "ticket #1"
        assert table.reads == 2
    finally:
        await waits.stop()


async def test_a_ticket_already_there_is_one_read() -> None:
    hub, table = Hub(), Table()
    table.rows["call-1"] = "ticket #1"
    waits = TicketWaits(hub)
    await waits.start()
    try:
        assert await waits.until_found("call-1", lambda: table.read("call-1"), PATIENCE) == "ticket #1"
        assert table.reads == 1
    finally:
        await waits.stop()


async def test_a_lost_commit_event_costs_a_recheck_never_a_stuck_page(monkeypatch) -> None:
    monkeypatch.setattr(ticket_waits, "RECHECK", 0.01)
    hub, table = Hub(), Table()
    waits = TicketWaits(hub)
    await waits.start()
    try:
        waiting = await waiting_after_a_miss(waits, table)
        table.rows["call-1"] = "ticket #1"  # committed, but nothing published
        async with asyncio.timeout(PATIENCE):
            assert await waiting == "ticket #1"
    finally:
        await waits.stop()


async def test_no_ticket_within_the_wait_is_none() -> None:
    hub, table = Hub(), Table()
    waits = TicketWaits(hub)
    await waits.start()
    try:
        assert await waits.until_found("call-1", lambda: table.read("call-1"), 0.0) is None
        assert table.reads == 1 and not waits._waiting
    finally:
        await waits.stop()
