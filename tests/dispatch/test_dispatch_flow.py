"""Dispatch → acknowledge → progress → field report → Close Ticket, against SQLite and PostgreSQL.

Each use case checks role and transition, writes its rows and one audit row in
one transaction, publishes after the commit — and a refusal leaves no trace.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from ngcc112.tickets import dispatch as d
from ngcc112.tickets.dispatch import DispatchError, NotFoundOrForbidden, RoleRefused
from ngcc112.tickets.dispatch_models import Dispatch
from ngcc112.tickets.models import AuditEntry, Ticket, User
from ngcc112.tickets.states import TransitionRefused


async def _audit(world, ticket_id):
    async with world.sessions() as session:
        return (await session.scalars(select(AuditEntry).where(AuditEntry.ticket_id == ticket_id)
                                      .order_by(AuditEntry.id))).all()


async def _ticket(world, ticket_id) -> Ticket:
    async with world.sessions() as session:
        return await session.get(Ticket, ticket_id)


async def _count(world, model) -> int:
    async with world.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model))


async def test_the_whole_road_from_escalated_to_closed(world):
    s, pub, u, clock = world.sessions, world.publish, world.users, world.clock
    ticket = await world.ticket()

    clock.tick(20)
    sent = await d.dispatch(s, pub, ticket.id, ["damkar", "psc119"], "Rumah terbakar, 2 korban", u["disp"],
                            clock=clock)
    assert [(v.agency_code, v.status, v.ticket_state) for v in sent] == [
        ("damkar", "sent", "dispatched"), ("psc119", "sent", "dispatched")]
    damkar, psc = sent
    assert world.published[-1].action == "dispatch" and world.published[-1].state == "dispatched"

    clock.tick(5)
    view = await d.acknowledge(s, pub, damkar.id, u["damkar2"], clock=clock)
    assert (view.status, view.acknowledged_by, view.acknowledged_at) == ("acknowledged", "damkar2", clock.now)

    clock.tick(10)
    assert (await d.update_status(s, pub, damkar.id, "en_route", None, u["damkar1"], clock=clock)).status == "en_route"
    assert (await _ticket(world, ticket.id)).state == "dispatched"
    clock.tick(300)
    view = await d.update_status(s, pub, damkar.id, "on_scene", None, u["damkar1"], clock=clock)
    assert (view.status, view.ticket_state, view.on_scene_at) == ("on_scene", "on_scene", clock.now)
    assert world.published[-1].state == "on_scene" and world.published[-1].changes["state"] == "on_scene"

    # The ambulance never acknowledged; saying it cannot come needs a reason and acknowledges it.
    with pytest.raises(DispatchError) as bad:
        await d.update_status(s, pub, psc.id, "cannot_handle", "  ", u["psc1"], clock=clock)
    assert bad.value.field == "reason"
    clock.tick(30)
    view = await d.update_status(s, pub, psc.id, "cannot_handle", "Semua unit sedang bertugas", u["psc1"],
                                 clock=clock)
    assert (view.status, view.reason, view.acknowledged_by, view.finished_at) == (
        "cannot_handle", "Semua unit sedang bertugas", "psc1", clock.now)
    assert (view.reported_at, view.reported_by) == (clock.now, "psc1"), "the reason is the report back"
    clock.tick(5)
    # No field report after "cannot handle": refused, nothing written.
    with pytest.raises(d.NoReportAfterCannotHandle):
        await d.file_report(s, pub, psc.id, "Tidak ada unit; diteruskan ke RS swasta", u["psc1"], clock=clock)
    assert (await _ticket(world, ticket.id)).state == "on_scene", "damkar has not finished"

    clock.tick(1200)
    await d.update_status(s, pub, damkar.id, "handled", None, u["damkar1"], clock=clock)
    assert (await _ticket(world, ticket.id)).state == "on_scene", "handled but not yet reported"
    clock.tick(60)
    view = await d.file_report(s, pub, damkar.id, "Api padam pukul 08:27, tidak ada korban jiwa", u["damkar1"],
                               clock=clock)
    assert view.ticket_state == "reported" and view.reported_by == "damkar1"
    assert world.published[-1].changes["state"] == "reported"

    clock.tick(25)
    change = await d.close(s, pub, ticket.id, u["disp"], clock=clock)
    assert (change.action, change.state) == ("close", "closed")
    closed = await _ticket(world, ticket.id)
    assert (closed.state, closed.closed_at) == ("closed", clock.now)

    audit = await _audit(world, ticket.id)
    assert [(a.actor, a.action, a.from_state, a.to_state) for a in audit] == [
        ("disp", "dispatch", "escalated", "dispatched"),
        ("damkar2", "acknowledge", "dispatched", "dispatched"),
        ("damkar1", "dispatch_status", "dispatched", "dispatched"),
        ("damkar1", "dispatch_status", "dispatched", "on_scene"),
        ("psc1", "dispatch_status", "on_scene", "on_scene"),
        ("damkar1", "dispatch_status", "on_scene", "on_scene"),
        ("damkar1", "field_report", "on_scene", "reported"),
        ("disp", "close", "reported", "closed"),
    ]
    assert audit[0].changes["instructions"] == "Rumah terbakar, 2 korban"
    assert [x["agency"] for x in audit[0].changes["dispatches"]] == ["damkar", "psc119"]
    assert audit[4].changes["status"] == {"from": "sent", "to": "cannot_handle"}
    assert audit[4].changes["reason"] == "Semua unit sedang bertugas"
    assert audit[4].changes["reported_at"] is not None
    assert "override_reason" not in audit[-1].changes
    assert [a.at for a in audit] == sorted(a.at for a in audit)
    assert len(world.published) == len(audit)

    # A closed ticket takes nothing more.
    for attempt in (d.dispatch(s, pub, ticket.id, ["polisi"], "", u["disp"]),
                    d.close(s, pub, ticket.id, u["disp"], "again")):
        with pytest.raises(TransitionRefused):
            await attempt
    assert len(await _audit(world, ticket.id)) == len(audit)


async def test_an_agency_that_handles_without_going_on_scene_reports_straight_from_dispatched(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (pln,) = [v for v in await d.dispatch(s, pub, ticket.id, ["damkar"], "", u["disp"])]
    await d.file_report(s, pub, pln.id, "Report first", u["damkar1"])
    assert (await _ticket(world, ticket.id)).state == "dispatched"
    view = await d.update_status(s, pub, pln.id, "handled", None, u["damkar1"])
    assert view.ticket_state == "reported"


@pytest.mark.parametrize("role_user", ["op1", "admin", "damkar1"])
async def test_only_dispatchers_dispatch_and_a_refusal_writes_nothing(world, role_user):
    ticket = await world.ticket()
    with pytest.raises(RoleRefused, match="is for: dispatcher"):
        await d.dispatch(world.sessions, world.publish, ticket.id, ["damkar"], "", world.users[role_user])
    assert await _count(world, Dispatch) == 0
    assert await _audit(world, ticket.id) == []
    assert world.published == []
    assert (await _ticket(world, ticket.id)).state == "escalated"


@pytest.mark.parametrize("state", ["new", "in_call", "classified", "reported", "closed"])
async def test_a_ticket_that_is_not_escalated_cannot_be_dispatched(world, state):
    ticket = await world.ticket(state=state)
    with pytest.raises(TransitionRefused) as refused:
        await d.dispatch(world.sessions, world.publish, ticket.id, ["damkar"], "", world.users["disp"])
    assert not isinstance(refused.value, RoleRefused), "the state is wrong, not the dispatcher"
    assert await _count(world, Dispatch) == 0


async def test_agencies_must_be_known_active_and_new_on_the_ticket(world):
    s, pub, disp = world.sessions, world.publish, world.users["disp"]
    ticket = await world.ticket()
    with pytest.raises(DispatchError, match="choose at least one"):
        await d.dispatch(s, pub, ticket.id, [], "", disp)
    with pytest.raises(DispatchError, match="unknown agency: nasa"):
        await d.dispatch(s, pub, ticket.id, ["damkar", "nasa"], "", disp)
    async with s.begin() as session:
        (await session.get(type(world.agencies["pdam"]), world.agencies["pdam"].id)).active = False
    with pytest.raises(DispatchError, match="not active: pdam"):
        await d.dispatch(s, pub, ticket.id, ["pdam"], "", disp)
    with pytest.raises(DispatchError, match="instructions"):
        await d.dispatch(s, pub, ticket.id, ["damkar"], "x" * (d.MAX_INSTRUCTIONS + 1), disp)
    assert await _count(world, Dispatch) == 0 and (await _ticket(world, ticket.id)).state == "escalated"

    await d.dispatch(s, pub, ticket.id, ["damkar", "damkar"], "", disp)  # a double click is one dispatch
    assert await _count(world, Dispatch) == 1
    with pytest.raises(DispatchError, match="already dispatched on ticket #\\d+: damkar"):
        await d.dispatch(s, pub, ticket.id, ["polisi", "damkar"], "", disp)
    added = await d.dispatch(s, pub, ticket.id, ["polisi"], "Bantu atur lalu lintas", disp)
    assert [(v.agency_code, v.ticket_state) for v in added] == [("polisi", "dispatched")]
    audit = await _audit(world, ticket.id)
    assert [(a.from_state, a.to_state) for a in audit] == [("escalated", "dispatched"),
                                                           ("dispatched", "dispatched")]


async def test_acknowledging_is_for_the_dispatched_agency_only_and_only_once(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (item,) = await d.dispatch(s, pub, ticket.id, ["damkar"], "", u["disp"])
    for name in ("disp", "op1", "admin"):
        with pytest.raises(RoleRefused, match="user of the dispatched agency; not for"):
            await d.acknowledge(s, pub, item.id, u[name])
    for name in ("psc1", "polisi1", "loose"):
        with pytest.raises(NotFoundOrForbidden):
            await d.acknowledge(s, pub, item.id, u[name])
    with pytest.raises(NotFoundOrForbidden):
        await d.acknowledge(s, pub, 999_999, u["damkar1"])
    await d.acknowledge(s, pub, item.id, u["damkar1"])
    with pytest.raises(TransitionRefused, match="already acknowledged"):
        await d.acknowledge(s, pub, item.id, u["damkar2"])
    assert len(await _audit(world, ticket.id)) == 2


async def test_a_dispatch_only_moves_forward(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (item,) = await d.dispatch(s, pub, ticket.id, ["damkar"], "", u["disp"])
    await d.update_status(s, pub, item.id, "on_scene", None, u["damkar1"])
    for back in ("en_route", "on_scene"):
        with pytest.raises(TransitionRefused, match="is on_scene; it cannot go to"):
            await d.update_status(s, pub, item.id, back, None, u["damkar1"])
    await d.update_status(s, pub, item.id, "handled", None, u["damkar1"])
    with pytest.raises(TransitionRefused, match="it is finished"):
        await d.update_status(s, pub, item.id, "cannot_handle", "late", u["damkar1"])
    for bad in ("sent", "acknowledged", "lost"):
        with pytest.raises(DispatchError) as refused:
            await d.update_status(s, pub, item.id, bad, None, u["damkar1"])
        assert refused.value.field == "status"


async def test_the_dispatcher_records_what_an_agency_reported_by_radio_on_its_behalf(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (item,) = await d.dispatch(s, pub, ticket.id, ["polisi"], "", u["disp"])
    await d.update_status(s, pub, item.id, "on_scene", None, u["disp"])
    await d.update_status(s, pub, item.id, "handled", None, u["disp"])
    view = await d.file_report(s, pub, item.id, "Dilaporkan via HT: pelaku diamankan", u["disp"])
    assert (view.ticket_state, view.reported_by, view.acknowledged_by) == ("reported", "disp", "disp")
    audit = await _audit(world, ticket.id)
    assert all(a.changes.get("on_behalf_of") == "polisi" for a in audit[1:])
    assert all(a.actor == "disp" for a in audit)
    with pytest.raises(TransitionRefused, match="already has its field report"):
        await d.file_report(s, pub, item.id, "again", u["disp"])
    for name in ("op1", "admin"):
        with pytest.raises(RoleRefused, match="or a dispatcher; not for"):
            await d.file_report(s, pub, item.id, "x", u[name])


async def test_reports_must_say_something(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (item,) = await d.dispatch(s, pub, ticket.id, ["damkar"], "", u["disp"])
    for text in ("", "   \n", "x" * (d.MAX_REPORT + 1)):
        with pytest.raises(DispatchError) as refused:
            await d.file_report(s, pub, item.id, text, u["damkar1"])
        assert refused.value.field == "report"


async def test_closing_before_every_agency_reported_needs_an_override_reason_which_is_audited(world):
    s, pub, u, clock = world.sessions, world.publish, world.users, world.clock
    ticket = await world.ticket()
    damkar, polisi = await d.dispatch(s, pub, ticket.id, ["damkar", "polisi"], "", u["disp"], clock=clock)
    await d.update_status(s, pub, damkar.id, "handled", None, u["damkar1"], clock=clock)
    await d.file_report(s, pub, damkar.id, "Selesai", u["damkar1"], clock=clock)
    with pytest.raises(DispatchError) as refused:
        await d.close(s, pub, ticket.id, u["disp"])
    assert refused.value.field == "override_reason" and "not every agency has reported" in refused.value.message
    with pytest.raises(RoleRefused, match="is for: dispatcher"):
        await d.close(s, pub, ticket.id, u["op1"], "operators do not close dispatched tickets")
    clock.tick(90)
    change = await d.close(s, pub, ticket.id, u["disp"], "  Polisi melapor lewat telepon: aman  ", clock=clock)
    assert change.changes["override_reason"] == "Polisi melapor lewat telepon: aman"
    assert change.changes["unreported"] == [{"dispatch": polisi.id, "agency": "polisi", "status": "sent"}]
    last = (await _audit(world, ticket.id))[-1]
    assert (last.action, last.from_state, last.to_state, last.actor) == ("close", "dispatched", "closed", "disp")
    assert last.changes["override_reason"] == "Polisi melapor lewat telepon: aman"
    # the agency can no longer change a closed ticket's dispatch
    with pytest.raises(TransitionRefused, match="is closed"):
        await d.update_status(s, pub, polisi.id, "on_scene", None, u["polisi1"])


async def test_an_escalated_ticket_closes_without_dispatch_only_with_a_reason(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    with pytest.raises(DispatchError):
        await d.close(s, pub, ticket.id, u["disp"])
    change = await d.close(s, pub, ticket.id, u["disp"], "Duplikat tiket #12")
    assert change.changes["unreported"] == [] and change.state == "closed"


@pytest.mark.parametrize("state", ["new", "in_call", "classified"])
async def test_close_ticket_is_not_the_intake_close(world, state):
    ticket = await world.ticket(state=state, verdict="prank")
    with pytest.raises(TransitionRefused):
        await d.close(world.sessions, world.publish, ticket.id, world.users["disp"], "x")
    assert (await _ticket(world, ticket.id)).state == state


async def test_a_deactivated_account_is_refused_at_once(world):
    s, pub, u = world.sessions, world.publish, world.users
    ticket = await world.ticket()
    (item,) = await d.dispatch(s, pub, ticket.id, ["damkar"], "", u["disp"])
    async with s.begin() as session:
        (await session.get(User, u["damkar1"].id)).active = False
    with pytest.raises(RoleRefused, match="not active"):
        await d.acknowledge(s, pub, item.id, u["damkar1"])
    # and a role taken away counts, even though the caller still holds the old User object
    async with s.begin() as session:
        (await session.get(User, u["disp"].id)).role = "operator"
    with pytest.raises(RoleRefused, match="not for operator"):
        await d.close(s, pub, ticket.id, u["disp"], "reason")


async def test_two_agencies_reporting_at_the_same_moment_both_count(world):
    s, pub, u = world.sessions, world.publish, world.users
    for _ in range(3):
        ticket = await world.ticket()
        damkar, psc = await d.dispatch(s, pub, ticket.id, ["damkar", "psc119"], "", u["disp"])
        await d.update_status(s, pub, damkar.id, "handled", None, u["damkar1"])
        await d.update_status(s, pub, psc.id, "handled", None, u["psc1"])
        await asyncio.gather(d.file_report(s, pub, damkar.id, "A", u["damkar1"]),
                             d.file_report(s, pub, psc.id, "B", u["psc1"]))
        assert (await _ticket(world, ticket.id)).state == "reported"
        assert [a.to_state for a in await _audit(world, ticket.id)].count("reported") == 1


async def test_the_published_change_comes_after_the_commit(world):
    s, u = world.sessions, world.users
    ticket = await world.ticket()
    seen = []

    def publish(change):
        async def look():
            async with s() as session:
                return await session.scalar(select(func.count()).select_from(Dispatch))
        seen.append(asyncio.ensure_future(look()))

    await d.dispatch(s, publish, ticket.id, ["damkar"], "", u["disp"])
    assert await seen[0] == 1
