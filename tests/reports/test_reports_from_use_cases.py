"""The report reads the moments the dispatch use cases audit: no timestamp is kept twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from sqlalchemy import select

from ngcc112.reports import build_report
from ngcc112.tickets import dispatch as d
from ngcc112.tickets.agencies import seed_agencies
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.dispatch_models import Agency, AgencyMember
from ngcc112.tickets.models import AuditEntry, Ticket, User

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=timezone.utc)


async def test_dispatch_field_handling_and_closing_times_come_from_the_use_cases(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    try:
        await seed_agencies(sessions)
        async with sessions.begin() as session:
            disp = User(username="disp", role="dispatcher", password_hash="unused", active=True)
            fire = User(username="fire1", role="agency", password_hash="unused", active=True)
            ticket = Ticket(linkedid="L1", state="escalated", verdict="normal", arrived_at=T0,
                            queued_at=T0 + timedelta(seconds=3), answered_at=T0 + timedelta(seconds=9),
                            classified_at=T0 + timedelta(seconds=40), operator_interface="PJSIP/op1",
                            variables={}, score_reasons=[], intake={}, abandoned=False, withdrawn=False,
                            ended_unobserved=False)
            session.add_all([disp, fire, ticket])
            await session.flush()
            session.add(AuditEntry(ticket_id=ticket.id, at=T0 + timedelta(seconds=70), actor="op1",
                                   action="escalate", from_state="classified", to_state="escalated", changes={}))
            damkar = await session.scalar(select(Agency).where(Agency.code == "damkar"))
            session.add(AgencyMember(user_id=fire.id, agency_id=damkar.id))

        def at(seconds):
            return lambda: T0 + timedelta(seconds=seconds)

        (item,) = await d.dispatch(sessions, None, ticket.id, ["damkar"], "", disp, clock=at(100))
        await d.acknowledge(sessions, None, item.id, fire, clock=at(110))
        await d.update_status(sessions, None, item.id, "on_scene", None, fire, clock=at(700))
        await d.update_status(sessions, None, item.id, "handled", None, fire, clock=at(1600))
        await d.file_report(sessions, None, item.id, "Padam", fire, clock=at(1700))
        await d.close(sessions, None, ticket.id, disp, clock=at(1720))

        report = await build_report(sessions, date(2026, 11, 27), date(2026, 11, 27))
        stages = {s.stage: s for s in report.stages}
        assert stages["classification"].total_seconds == 30      # 40 → 70
        assert stages["dispatch"].total_seconds == 30            # 70 → 100
        assert stages["field_handling"].total_seconds == 1600    # 100 → 1700
        assert (stages["closing"].total_seconds, stages["closing"].met) == (20, 1)  # 1700 → 1720
    finally:
        await engine.dispose()
