"""The ticket search's SQL on SQLite and on a real PostgreSQL: number (LIKE with its wildcards
escaped), state, verdict, agency (a subquery), site, local days, paging and the close reasons."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from ngcc112.panel.ticket_search import TicketQuery, all_matching, search_tickets
from ngcc112.tickets.agencies import seed_agencies
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket

# 2026-12-01 16:30 UTC is 23:30 in Jakarta; 17:30 UTC is already 2026-12-02 00:30 WIB
LATE_EVENING = datetime(2026, 12, 1, 16, 30, tzinfo=timezone.utc)
AFTER_MIDNIGHT = datetime(2026, 12, 1, 17, 30, tzinfo=timezone.utc)


def _ticket(n: int, at: datetime, **extra) -> Ticket:
    values = {"state": "closed", "verdict": "normal", "category": "fire", "caller_number": f"08120000{n:04d}"}
    values.update(extra)
    return Ticket(linkedid=f"1764600000.{n}", arrived_at=at, variables={}, score_reasons=[], abandoned=False,
                  withdrawn=False, ended_unobserved=False, intake={}, **values)


async def test_search_on_both_databases(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    await seed_agencies(sessions)
    async with sessions.begin() as session:
        evening = _ticket(1, LATE_EVENING, caller_number="0812_5%")
        night = _ticket(2, AFTER_MIDNIGHT, state="dispatched", verdict="normal")
        prank = _ticket(3, AFTER_MIDNIGHT + timedelta(minutes=1), verdict="prank", caller_number="081255",
                        site="north")
        session.add_all([evening, night, prank])
        await session.flush()
        damkar = (await session.execute(Agency.__table__.select().where(Agency.code == "damkar"))).first()
        session.add(Dispatch(ticket_id=night.id, agency_id=damkar.id, status="sent", instructions="",
                             sent_at=AFTER_MIDNIGHT, sent_by="dispatcher", status_at=AFTER_MIDNIGHT))
        session.add(AuditEntry(ticket_id=evening.id, at=LATE_EVENING, actor="dispatcher", action="close",
                               from_state="dispatched", to_state="closed",
                               changes={"override_reason": "Salah sambung"}))
        ids = (evening.id, night.id, prank.id)

    async def found(**filters) -> list[int]:
        page = await search_tickets(sessions, TicketQuery(tz="Asia/Jakarta", **filters))
        return [row.id for row in page.rows]

    assert await found() == [ids[2], ids[1], ids[0]]
    assert await found(number="0812_5") == [ids[0]]  # '_' is a character here, not a wildcard
    assert await found(number="081255") == [ids[2]]
    assert await found(state="dispatched") == [ids[1]]
    assert await found(verdict="prank") == [ids[2]]
    assert await found(agency="damkar") == [ids[1]]
    assert await found(site="north") == [ids[2]]
    assert await found(site="main") == [ids[1], ids[0]]
    assert await found(start=date(2026, 12, 1), end=date(2026, 12, 1)) == [ids[0]]  # local days
    assert await found(start=date(2026, 12, 2)) == [ids[2], ids[1]]
    page = await search_tickets(sessions, TicketQuery(page=2), page_size=2)
    assert ([r.id for r in page.rows], page.total, page.pages) == ([ids[0]], 3, 2)
    rows = {r.id: r for r in await all_matching(sessions, TicketQuery())}
    assert rows[ids[0]].closed_reason == "Salah sambung"
    assert rows[ids[1]].agencies == ("Damkar (Pemadam Kebakaran dan Penyelamatan)",)
    await engine.dispose()
