"""Screen-pop: the ringing operator's panel gets the caller, history and silent-call banner."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from panel_helpers import QUEUE, login, settle

from ngcc112.ami.events import (
    CallArrived,
    CallConnected,
    CallEnded,
    CallVariables,
    OperatorRingNoAnswer,
    OperatorRinging,
)
from ngcc112.panel import live as live_module
from ngcc112.panel.operator.calls import CallBoard
from ngcc112.panel.live import LiveHub
from ngcc112.routing.presence import PresenceBoard
from ngcc112.tickets import intake
from ngcc112.tickets import intake_form

NOW = datetime.now(timezone.utc)


async def arrive(services, call_id: str, number: str = "081234567890", name: str = "Budi",
                 at: datetime | None = None, variables: dict[str, str] | None = None):
    at = at or datetime.now(timezone.utc)
    await services.store.record(CallArrived(call_id=call_id, at=at, channel=f"PJSIP/caller1-{call_id}",
                                            uniqueid=call_id, caller_number=number, caller_name=name,
                                            exten="112"))
    if variables:
        await services.store.record(CallVariables(call_id=call_id, at=at, variables=variables))


def ringing(call_id: str, interface: str = "PJSIP/op1") -> OperatorRinging:
    return OperatorRinging(call_id=call_id, at=datetime.now(timezone.utc), queue=QUEUE,
                           interface=interface, member_name=interface.rpartition("/")[2])


def connected(call_id: str, interface: str = "PJSIP/op1") -> CallConnected:
    return CallConnected(call_id=call_id, at=datetime.now(timezone.utc), queue=QUEUE,
                         interface=interface, member_name=interface.rpartition("/")[2],
                         waited_seconds=3.0)


async def emit(services, event) -> None:
    """What the daemon does: publish at once, write the ticket after."""
    services.hub.publish(event)
    await services.store.record(event)
    await settle(services)


async def _next(ws, kind: str) -> dict:
    while True:
        message = await ws.receive_json(timeout=3)
        if message["type"] == kind:
            return message


async def test_ringing_pops_on_that_operators_panel_only(client, other_client, services):
    await login(client, "op1")
    second = await other_client()
    await login(second, "op2")
    await arrive(services, "1700000000.1")
    async with client.ws_connect("/ws") as ws1, second.ws_connect("/ws") as ws2:
        await _next(ws1, "hello")
        await _next(ws2, "hello")
        await emit(services, ringing("1700000000.1"))
        message = await _next(ws1, "call")
        assert message["ringing"] == "1700000000.1" and message["active"] is None
        state = await (await client.get("/api/me/state")).json()
        ticket = state["desk"]["ringing"]["ticket"]
        assert ticket["caller_number"] == "081234567890" and ticket["caller_name"] == "Budi"
        html = await (await client.get("/panel/call")).text()
        assert 'class="caller-number"' in html and "081234567890" in html
        assert "Panggilan masuk" in html
        assert 'id="intake"' not in html  # the form opens on answer
        other = await (await second.get("/api/me/state")).json()
        assert other["desk"] == {"ringing": None, "active": None, "live": None, "followup": None,
                                 "pending": []}
        with_timeout = asyncio.create_task(ws2.receive_json(timeout=0.3))
        try:
            message = await with_timeout
            assert message["type"] != "call"
        except asyncio.TimeoutError:
            pass
    await second.close()


async def test_answer_opens_the_intake_and_ring_no_answer_clears(client, services):
    await login(client, "op1")
    await arrive(services, "c.2")
    await emit(services, ringing("c.2"))
    await emit(services, OperatorRingNoAnswer(call_id="c.2", at=datetime.now(timezone.utc), queue=QUEUE,
                                              interface="PJSIP/op1", member_name="op1", ring_seconds=15))
    state = await (await client.get("/api/me/state")).json()
    assert state["desk"]["ringing"] is None
    await emit(services, ringing("c.2"))
    await emit(services, connected("c.2"))
    state = await (await client.get("/api/me/state")).json()
    assert state["desk"]["ringing"] is None
    active = state["desk"]["active"]
    assert active["phase"] == "connected" and active["ticket"]["state"] == "in_call"
    html = await (await client.get("/panel/call")).text()
    assert 'id="intake"' in html and 'id="stopwatch"' in html
    assert 'value="081234567890"' in html  # callback number prefilled from caller ID
    # the caller hangs up: the intake stays open until it is finished
    await emit(services, CallEnded(call_id="c.2", at=datetime.now(timezone.utc), cause=16,
                                   cause_text="Normal Clearing"))
    state = await (await client.get("/api/me/state")).json()
    assert state["desk"]["active"]["ended"] is True
    assert "Panggilan berakhir" in await (await client.get("/panel/call")).text()


async def test_history_location_and_silent_banner(client, services):
    await login(client, "op1")
    user = SimpleNamespace(username="op1", role="operator", interface="PJSIP/op1")
    for n, verdict in enumerate(("prank", "ghost")):
        call_id = f"old.{n}"
        await arrive(services, call_id, at=datetime.now(timezone.utc) - timedelta(hours=n + 1))
        await services.store.record(connected(call_id))  # op1 answered the earlier calls
        ticket = await services.store.by_linkedid(call_id)
        data = intake_form.IntakeData(verdict=verdict, note="nobody there")
        await intake.complete_intake(services.sessions, None, ticket.id, user, data)  # type: ignore[arg-type]
    await arrive(services, "new.1", variables={
        "NGCC_GEO_LOCATION": 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"',
        "NGCC_GEO_CONFIDENCE": 'pdf="normal",value="95"', "NGCC_GEO_METHOD": "GPS",
        "NGCC_SILENT_DIGIT": "5"})
    await emit(services, ringing("new.1"))
    ticket = (await (await client.get("/api/me/state")).json())["desk"]["ringing"]["ticket"]
    assert [h["verdict"] for h in ticket["history"]] == ["prank", "ghost"]
    assert ticket["silent_call"] is True
    assert ticket["location"]["latitude"] == -6.2 and ticket["location"]["radius_m"] == 50
    html = await (await client.get("/panel/call")).text()
    assert "Penelepon mungkin tidak bisa berbicara — menekan tombol 5" in html
    assert "-6.20000, 106.81660" in html and "Panggilan iseng (prank)" in html


async def test_ticket_written_after_the_event_is_still_found(client, services):
    await login(client, "op1")
    services.hub.publish(ringing("late.1"))
    await settle(services)

    async def write_later():
        await asyncio.sleep(0.2)
        await arrive(services, "late.1", number="0219999")

    writer = asyncio.create_task(write_later())
    state = await (await client.get("/api/me/state")).json()
    await writer
    assert state["desk"]["ringing"]["ticket"]["caller_number"] == "0219999"


async def test_number_shows_even_when_the_ticket_is_not_written(client, services):
    """The database is slow or away: the pop still shows the caller ID from the call events."""
    await login(client, "op1")
    services.hub.publish(CallArrived(call_id="nodb.1", at=datetime.now(timezone.utc), channel="PJSIP/c-1",
                                     uniqueid="nodb.1", caller_number="0274123456", caller_name="Sari",
                                     exten="112"))
    services.hub.publish(ringing("nodb.1"))
    await settle(services)
    html = await (await client.get("/panel/call")).text()
    assert 'data-number="0274123456"' in html and "Sari" in html
    assert "Mencari data penelepon" in html
    state = await (await client.get("/api/me/state")).json()
    assert state["desk"]["ringing"]["caller_number"] == "0274123456"
    assert state["desk"]["ringing"]["ticket"] is None


async def test_panel_restart_finds_the_unfinished_intake(client, services):
    await arrive(services, "r.1")
    await services.store.record(connected("r.1"))  # seen by the store, never by this panel
    await login(client, "op1")
    state = await (await client.get("/api/me/state")).json()
    assert state["desk"]["active"]["call_id"] == "r.1"


async def test_a_finished_intake_leaves_the_desk(client, services):
    token = await login(client, "op1")
    await arrive(services, "f.1")
    await emit(services, ringing("f.1"))
    await emit(services, connected("f.1"))
    ticket_id = (await (await client.get("/api/me/state")).json())["desk"]["active"]["ticket"]["id"]
    async with client.ws_connect("/ws") as ws:
        await _next(ws, "hello")
        done = await client.post(f"/api/tickets/{ticket_id}/complete", headers={"X-CSRF-Token": token},
                                 json={"verdict": "information", "note": "asked for hospital hours"})
        assert done.status == 200
        message = await _next(ws, "call")  # classified: still on the desk
        while message["active"] is not None:
            message = await _next(ws, "call")  # closed: gone
    assert (await (await client.get("/api/me/state")).json())["desk"]["active"] is None


async def test_ws_refuses_other_origins(client):
    await login(client, "op1")
    response = await client.get("/ws", headers={"Origin": "http://evil.example", "Connection": "Upgrade",
                                                 "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
                                                 "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert response.status == 403


class _StalledSocket:
    """A browser that stopped reading: every send waits forever."""

    closed = False

    def __init__(self) -> None:
        self.close_code = None

    async def send_json(self, message):
        await asyncio.Event().wait()

    async def close(self, *, code, message=b""):
        self.close_code = code
        self.closed = True


async def test_a_slow_client_is_dropped_without_delaying_others(services):
    hub = LiveHub(services.hub, PresenceBoard(QUEUE), CallBoard())
    await hub.start()
    slow, fast = _StalledSocket(), _StalledSocket()
    received = []

    async def collect(message):
        received.append(message)

    fast.send_json = collect  # type: ignore[method-assign]
    describe = lambda member: {}  # noqa: E731
    slow_client = hub.add(slow, user_id=1, role="operator", interface="PJSIP/op1", describe=describe)
    hub.add(fast, user_id=2, role="operator", interface="PJSIP/op1", describe=describe)
    for n in range(live_module.CLIENT_QUEUE + 5):
        services.hub.publish(ringing(f"flood.{n}"))
        services.hub.publish(OperatorRingNoAnswer(call_id=f"flood.{n}", at=NOW, queue=QUEUE,
                                                  interface="PJSIP/op1", member_name="op1", ring_seconds=1))

    expected = 2 * (live_module.CLIENT_QUEUE + 5)

    async def until_dropped_and_delivered() -> None:
        while not slow.closed or len(received) < expected:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(until_dropped_and_delivered(), 30)  # a hang's guard, not a speed bound
    assert slow_client.dropped and slow.close_code == live_module.WS_TRY_AGAIN
    assert hub.client_count == 1 and hub.dropped_clients == 1
    assert len(received) == expected
    await hub.stop()


async def test_dispatchers_watch_the_room(client, services):
    await login(client, "dispatcher")
    async with client.ws_connect("/ws") as ws:
        await _next(ws, "hello")
        await arrive(services, "w.1", number="0811223344")
        message = await _next(ws, "board")
        assert message["ticket_id"] == (await services.store.by_linkedid("w.1")).id
    html = await (await client.get("/panel/board")).text()
    assert "0811223344" in html and "Baru" in html
    page = await (await client.get("/board")).text()
    assert 'id="board"' in page and "0811223344" in page
    state = await (await client.get("/api/me/state")).json()
    assert state["presence"] is None and state["desk"] is None
