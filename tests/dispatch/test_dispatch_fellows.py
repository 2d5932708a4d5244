"""What an agency sees of the rest of its incident: the other agencies' names and stages, the closing
reason; "cannot handle" is the agency's report back (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest

from ngcc112.tickets import dispatch as d
from ngcc112.tickets.dispatch import NotFoundOrForbidden


async def test_an_agency_sees_the_other_agencies_names_and_stages_only(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    damkar, psc = await d.dispatch(s, pub, ticket.id, ["damkar", "psc119"], "Kunci di pot bunga", u["disp"])
    await d.update_status(s, pub, psc.id, "en_route", None, u["psc1"])
    fellows = await d.fellow_agencies(s, u["damkar1"], ticket.id)
    assert [(f.agency_code, f.status) for f in fellows] == [("psc119", "en_route")]
    assert set(d.FellowAgency.__slots__) == {"agency_code", "agency_name", "status"}, "nothing private"
    assert [f.agency_code for f in await d.fellow_agencies(s, u["psc1"], ticket.id)] == ["damkar"]
    # an agency not on the ticket, or without an agency, is told nothing
    for outsider in ("polisi1", "loose"):
        with pytest.raises(NotFoundOrForbidden):
            await d.fellow_agencies(s, u[outsider], ticket.id)
    assert [f.agency_code for f in await d.fellow_agencies(s, u["disp"], ticket.id)] == ["damkar", "psc119"]
    assert await d.closing_of(s, ticket.id) is None
    await d.close(s, pub, ticket.id, u["disp"], "Api padam sendiri")
    closing = await d.closing_of(s, ticket.id)
    assert closing["reason"] == "Api padam sendiri" and closing["at"] is not None
    assert damkar.id != psc.id


async def test_cannot_handle_is_the_report_back_and_takes_no_field_report(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (psc,) = await d.dispatch(s, pub, ticket.id, ["psc119"], "", u["disp"])
    view = await d.update_status(s, pub, psc.id, "cannot_handle", "Tidak ada ambulans", u["psc1"])
    assert view.ticket_state == "reported", "the only agency reported back: the dispatcher may close"
    assert (view.reported_by, view.report) == ("psc1", None)
    before = len(world.published)
    for actor in ("psc1", "disp"):  # neither the agency nor a dispatcher on its behalf
        with pytest.raises(d.NoReportAfterCannotHandle) as refused:
            await d.file_report(s, pub, psc.id, "Laporan", u[actor])
        assert refused.value.msgid.startswith("The agency said it cannot handle")
    assert len(world.published) == before
    closed = await d.close(s, pub, ticket.id, u["disp"])
    assert closed.state == "closed" and await d.closing_of(s, ticket.id) == {"at": closed.at, "reason": None}
