"""/ws?channel=dispatch: staff hear of every change, an agency only of its own tickets; the waiting board."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from dispatch_helpers import login, make_ticket, settle

from ngcc112.ami.events import CallAbandoned, CallArrived, CallConnected, CallerIdentified, CallQueued, CallsResynced
from ngcc112.panel.dispatch.waiting import WaitingBoard
from ngcc112.tickets.store import TicketChanged


async def _next(ws, timeout: float = 2.0) -> dict:
    return await asyncio.wait_for(ws.receive_json(), timeout)


async def _drain_until(ws, predicate, timeout: float = 3.0) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        message = await _next(ws, max(0.05, deadline - asyncio.get_running_loop().time()))
        if predicate(message):
            return message


async def test_websocket_refuses_strangers_and_other_roles(client, other_client):
    response = await client.get("/ws?channel=dispatch")
    assert response.status == 401
    dispatcher = await other_client()
    await login(dispatcher, "dispatcher")
    refused = await dispatcher.get("/ws?channel=dispatch", headers={"Origin": "http://evil.example"})
    assert refused.status == 403
    unknown = await dispatcher.get("/ws?channel=radio")
    assert unknown.status == 422


async def test_staff_hear_every_ticket_and_an_agency_only_its_own(client, other_client, services):
    damkar_ticket = await make_ticket(services)
    other_ticket = await make_ticket(services)
    token = await login(client, "dispatcher")
    staff_ws = await client.ws_connect("/ws?channel=dispatch")
    assert (await _next(staff_ws))["type"] == "hello"
    agency = await other_client()
    await login(agency, "agency")
    agency_ws = await agency.ws_connect("/ws?channel=dispatch")
    assert (await _next(agency_ws))["type"] == "hello"

    for tid, code in ((other_ticket, "psc119"), (damkar_ticket, "damkar")):
        response = await client.post(f"/api/dispatch/tickets/{tid}/dispatch", json={"agencies": [code]},
                                     headers={"X-CSRF-Token": token})
        assert response.status == 200
    told: set[int] = set()
    while told != {other_ticket, damkar_ticket}:
        message = await _next(staff_ws)
        assert message["type"] == "board" and "tickets" in message["what"]
        told |= set(message["ticket_ids"])
    message = await _next(agency_ws)
    assert message == {"type": "dispatch", "ticket_ids": [damkar_ticket]}
    services.hub.publish(TicketChanged(ticket_id=other_ticket, linkedid="x", action="note",
                                       at=datetime.now(timezone.utc), state="dispatched"))
    assert (await _next(staff_ws))["ticket_ids"] == [other_ticket]
    await settle()
    try:
        leaked = await asyncio.wait_for(agency_ws.receive_json(), 0.3)
    except asyncio.TimeoutError:
        leaked = None
    assert leaked is None
    await staff_ws.close()
    await agency_ws.close()


async def test_waiting_calls_appear_live_with_wait_and_priority(client, services):
    await login(client, "dispatcher")
    ws = await client.ws_connect("/ws?channel=dispatch")
    await _next(ws)
    now = datetime.now(timezone.utc)
    hub = services.hub
    hub.publish(CallArrived(call_id="c1", at=now - timedelta(seconds=20), channel="PJSIP/trunk-1", uniqueid="u1",
                            caller_number="081200001111", caller_name="Ani", exten="112"))
    hub.publish(CallQueued(call_id="c1", at=now - timedelta(seconds=17), queue="ngcc112-operators", position=1,
                           channel="PJSIP/trunk-1"))
    await _drain_until(ws, lambda m: "queue" in m.get("what", []))
    board = await (await client.get("/api/dispatch/board")).json()
    [waiting] = board["waiting"]
    assert waiting["caller_number"] == "081200001111"
    assert waiting["wait_seconds"] >= 19 and waiting["overdue"] is True  # past the 15 s answer standard
    hub.publish(TicketChanged(ticket_id=1, linkedid="c1", action="scored", at=now, state="new",
                              changes={"queue_priority": 7}))
    await _drain_until(ws, lambda m: "queue" in m.get("what", []))
    board = await (await client.get("/api/dispatch/board")).json()
    assert board["waiting"][0]["priority"] == 7
    hub.publish(CallConnected(call_id="c1", at=now, queue="ngcc112-operators", interface="PJSIP/op1",
                              member_name="op1", waited_seconds=20.0))
    await _drain_until(ws, lambda m: "queue" in m.get("what", []))
    assert (await (await client.get("/api/dispatch/board")).json())["waiting"] == []
    html = await (await client.get("/dispatch")).text()
    assert "Tidak ada yang menunggu" in html
    await ws.close()


async def test_a_burst_of_changes_is_one_message(client, services):
    await login(client, "dispatcher")
    ws = await client.ws_connect("/ws?channel=dispatch")
    await _next(ws)
    now = datetime.now(timezone.utc)
    for ticket_id in range(1, 201):
        services.hub.publish(TicketChanged(ticket_id=ticket_id, linkedid=f"b{ticket_id}", action="call_variables",
                                           at=now, state="new"))
    told: set[int] = set()
    messages = 0
    while len(told) < 200:
        told |= set((await _next(ws))["ticket_ids"])
        messages += 1
    assert messages <= 3
    await ws.close()


def test_waiting_board_orders_by_priority_then_wait_and_forgets_ended_calls():
    board = WaitingBoard()
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    for i, call_id in enumerate(("a", "b", "c")):
        assert board.apply(CallQueued(call_id=call_id, at=t0 + timedelta(seconds=i), queue="q", position=i + 1,
                                      channel=f"ch-{call_id}"))
    assert board.apply(TicketChanged(ticket_id=3, linkedid="c", action="scored", at=t0, state="new",
                                     changes={"queue_priority": 5}))
    assert [c.call_id for c in board.calls()] == ["c", "a", "b"]
    assert board.apply(CallAbandoned(call_id="a", at=t0, queue="q", position=1, waited_seconds=30.0))
    assert not board.apply(CallerIdentified(call_id="b", at=t0, caller_number="1", caller_name=None))
    assert board.apply(CallsResynced(at=t0, live_call_ids=frozenset({"c"})))
    assert [c.call_id for c in board.calls()] == ["c"]


async def test_board_marks_a_reported_ticket_past_the_closing_target(client, services):
    await make_ticket(services, state="reported", entered_ago=45.0)
    fresh = await make_ticket(services, state="reported", entered_ago=5.0)
    await login(client, "dispatcher")
    board = await (await client.get("/api/dispatch/board")).json()
    marks = {t["id"]: (t["stage"], t["overdue"]) for t in board["incidents"]}
    assert marks[fresh] == ("closing", False)
    assert sorted(marks.values()) == [("closing", False), ("closing", True)]
    html = await (await client.get("/dispatch")).text()
    assert html.count('data-overdue="true"') == 1
    assert "Lewat target" in html


async def test_one_live_hub_holds_both_channels_and_keeps_their_messages_apart(client, other_client, services):
    """The desk socket (/ws) and the dispatch socket (/ws?channel=dispatch) are clients of the panel's one
    hub; a ticket change is a coalesced {type: board, what} on the dispatch channel only, and the
    room's {type: board, ticket_id} on the desk channel only."""
    from ngcc112.panel.dispatch_state import DISPATCH
    from ngcc112.panel.state import PANEL

    app = client.server.app
    live = app[PANEL].live
    assert app[DISPATCH].live is live
    await login(client, "dispatcher")
    dispatch_ws = await client.ws_connect("/ws?channel=dispatch")
    assert (await _next(dispatch_ws))["type"] == "hello"
    room = await other_client()
    await login(room, "admin")
    desk_ws = await room.ws_connect("/ws")
    assert (await _next(desk_ws))["type"] == "hello"
    assert {c.channel for c in live.clients} == {"desk", "dispatch"} and live.client_count == 2

    services.hub.publish(TicketChanged(ticket_id=41, linkedid="one-hub", action="call_variables",
                                       at=datetime.now(timezone.utc), state="new"))
    told = await _drain_until(dispatch_ws, lambda m: m.get("type") == "board")
    assert told == {"type": "board", "what": ["tickets"], "ticket_ids": [41]}
    room_told = await _drain_until(desk_ws, lambda m: m.get("type") == "board")
    assert room_told == {"type": "board", "ticket_id": 41}
    await dispatch_ws.close()
    await desk_ws.close()
