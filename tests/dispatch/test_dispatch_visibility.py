"""Agency users see their own agency's dispatches and nothing else, enumerated exhaustively."""

from __future__ import annotations

import pytest

from ngcc112.tickets import dispatch as d
from ngcc112.tickets.dispatch import NotFoundOrForbidden
from ngcc112.tickets.models import User

AGENCY_USERS = {"damkar1": "damkar", "damkar2": "damkar", "psc1": "psc119", "polisi1": "polisi"}


@pytest.fixture
async def board(world):
    """Tickets in every state, some dispatched to one agency, some to several, some to none."""
    s, pub, u = world.sessions, world.publish, world.users
    tickets = {}
    for state in ("new", "in_call", "classified", "escalated", "closed"):
        tickets[state] = await world.ticket(state=state)
    plans = {"fire": ["damkar"], "crash": ["damkar", "psc119", "polisi"], "flood": ["bpbd", "basarnas"],
             "ambulance": ["psc119"]}
    dispatches = {}
    for name, codes in plans.items():
        ticket = await world.ticket()
        tickets[name] = ticket
        for view in await d.dispatch(s, pub, ticket.id, codes, f"ke {name}", u["disp"]):
            dispatches[view.id] = view
    closed = await world.ticket()
    for view in await d.dispatch(s, pub, closed.id, ["damkar", "pln"], "", u["disp"]):
        dispatches[view.id] = view
    await d.close(s, pub, closed.id, u["disp"], "selesai lewat telepon")
    tickets["dispatched_then_closed"] = closed
    return tickets, dispatches


@pytest.mark.parametrize("username", sorted(AGENCY_USERS))
async def test_an_agency_user_gets_exactly_their_agencys_dispatches(world, board, username):
    tickets, dispatches = board
    user, mine = world.users[username], AGENCY_USERS[username]
    visible = await d.visible_dispatches(world.sessions, user)
    assert {v.id for v in visible} == {i for i, v in dispatches.items() if v.agency_code == mine}
    assert {v.agency_code for v in visible} == {mine}

    for dispatch_id, view in dispatches.items():
        if view.agency_code == mine:
            assert (await d.get_dispatch_for(world.sessions, user, dispatch_id)).id == dispatch_id
        else:
            with pytest.raises(NotFoundOrForbidden):
                await d.get_dispatch_for(world.sessions, user, dispatch_id)
            for write in (d.acknowledge(world.sessions, world.publish, dispatch_id, user),
                          d.update_status(world.sessions, world.publish, dispatch_id, "en_route", None, user),
                          d.file_report(world.sessions, world.publish, dispatch_id, "x", user)):
                with pytest.raises(NotFoundOrForbidden):
                    await write
    with pytest.raises(NotFoundOrForbidden):
        await d.get_dispatch_for(world.sessions, user, max(dispatches) + 1)

    mine_tickets = {v.ticket_id for v in dispatches.values() if v.agency_code == mine}
    for name, ticket in tickets.items():
        if ticket.id in mine_tickets:
            seen = await d.get_ticket_for(world.sessions, user, ticket.id)
            assert seen.ticket.id == ticket.id
            assert [v.agency_code for v in seen.dispatches] == [mine], "other agencies' dispatches stay hidden"
        else:
            with pytest.raises(NotFoundOrForbidden):
                await d.get_ticket_for(world.sessions, user, ticket.id)
    with pytest.raises(NotFoundOrForbidden):
        await d.get_ticket_for(world.sessions, user, max(t.id for t in tickets.values()) + 1)


async def test_an_agency_user_without_an_agency_sees_nothing(world, board):
    tickets, dispatches = board
    loose = world.users["loose"]
    assert await d.visible_dispatches(world.sessions, loose) == []
    for dispatch_id in dispatches:
        with pytest.raises(NotFoundOrForbidden):
            await d.get_dispatch_for(world.sessions, loose, dispatch_id)
    for ticket in tickets.values():
        with pytest.raises(NotFoundOrForbidden):
            await d.get_ticket_for(world.sessions, loose, ticket.id)


async def test_a_deactivated_agency_user_sees_nothing(world, board):
    tickets, dispatches = board
    async with world.sessions.begin() as session:
        (await session.get(User, world.users["damkar1"].id)).active = False
    user = world.users["damkar1"]
    assert await d.visible_dispatches(world.sessions, user) == []
    for dispatch_id in dispatches:
        with pytest.raises(NotFoundOrForbidden):
            await d.get_dispatch_for(world.sessions, user, dispatch_id)
    with pytest.raises(NotFoundOrForbidden):
        await d.get_ticket_for(world.sessions, user, tickets["fire"].id)


@pytest.mark.parametrize("username", ["op1", "disp", "admin"])
async def test_the_centers_staff_see_every_dispatch(world, board, username):
    tickets, dispatches = board
    user = world.users[username]
    assert {v.id for v in await d.visible_dispatches(world.sessions, user)} == set(dispatches)
    for dispatch_id in dispatches:
        assert (await d.get_dispatch_for(world.sessions, user, dispatch_id)).id == dispatch_id
    crash = await d.get_ticket_for(world.sessions, user, tickets["crash"].id)
    assert [v.agency_code for v in crash.dispatches] == ["damkar", "psc119", "polisi"]
    assert (await d.get_ticket_for(world.sessions, user, tickets["new"].id)).dispatches == ()


async def test_open_only_leaves_out_closed_tickets_and_finished_reported_dispatches(world, board):
    tickets, dispatches = board
    s, pub, u = world.sessions, world.publish, world.users
    (fire,) = [v for v in dispatches.values() if v.ticket_id == tickets["fire"].id]
    await d.update_status(s, pub, fire.id, "handled", None, u["damkar1"])
    await d.file_report(s, pub, fire.id, "padam", u["damkar1"])
    open_ids = {v.id for v in await d.visible_dispatches(s, u["damkar2"], open_only=True)}
    crash_damkar = next(i for i, v in dispatches.items()
                        if v.ticket_id == tickets["crash"].id and v.agency_code == "damkar")
    assert open_ids == {crash_damkar}
    assert {v.ticket_id for v in await d.visible_dispatches(s, u["disp"], ticket_id=tickets["crash"].id)} == {
        tickets["crash"].id}


async def test_an_operator_cannot_touch_a_dispatch(world, board):
    _, dispatches = board
    some = next(iter(dispatches))
    with pytest.raises(d.RoleRefused):
        await d.update_status(world.sessions, world.publish, some, "en_route", None, world.users["op1"])


async def test_live_updates_reach_only_the_agencies_on_the_ticket(world, board):
    tickets, _ = board
    crash = await d.ticket_agencies(world.sessions, tickets["crash"].id)
    assert crash == {world.agencies[c].id for c in ("damkar", "psc119", "polisi")}
    assert await d.ticket_agencies(world.sessions, tickets["escalated"].id) == frozenset()
    assert await d.actor_agency(world.sessions, world.users["psc1"]) == world.agencies["psc119"].id
    assert await d.actor_agency(world.sessions, world.users["disp"]) is None
    assert await d.actor_agency(world.sessions, world.users["loose"]) is None
    flood = await d.ticket_agencies(world.sessions, tickets["flood"].id)
    assert await d.actor_agency(world.sessions, world.users["damkar1"]) not in flood
