"""Operator presence: Ready / Break / Log out become QueueAdd / QueuePause / QueueRemove,
and the panel shows what Asterisk reports (also changes made elsewhere)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from panel_helpers import QUEUE, login, settle

from ngcc112.ami.events import MembersResynced, MemberState
from ngcc112.routing.presence import Presence, PresenceBoard, PresenceControl, PresenceError


async def _presence(client, token: str, presence: str, **extra):
    return await client.post("/api/me/presence", json={"presence": presence, **extra},
                             headers={"X-CSRF-Token": token})


def _member(interface: str, *, in_queue: bool = True, paused: bool = False, reason: str = "",
            queue: str = QUEUE) -> MemberState:
    return MemberState(at=datetime.now(timezone.utc), queue=queue, interface=interface,
                       member_name=interface.rpartition("/")[2], in_queue=in_queue, paused=paused,
                       pause_reason=reason, status=1)


async def test_ready_sends_queue_add_and_shows_what_asterisk_reports(client, fake_link):
    token = await login(client, "op1")
    response = await _presence(client, token, "ready")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["presence"]["presence"] == "ready"
    assert body["presence"]["label"] == "Siap"
    action = fake_link.sent[-1]
    assert action.name == "QueueAdd"
    assert action.get("Queue") == QUEUE
    assert action.get("Interface") == "PJSIP/op1"
    assert action.get("StateInterface") == "PJSIP/op1"
    assert action.get("MemberName") == "op1"
    state = await (await client.get("/api/me/state")).json()
    assert state["presence"]["presence"] == "ready"


async def test_break_sends_queue_pause_with_the_reason(client, fake_link):
    token = await login(client, "op1")
    await _presence(client, token, "ready")
    response = await _presence(client, token, "break", reason="meal")
    assert response.status == 200
    assert (await response.json())["presence"] | {"presence": "break", "pause_reason": "meal"} \
        == (await response.json())["presence"]
    action = fake_link.sent[-1]
    assert (action.name, action.get("Paused"), action.get("Reason"), action.get("Interface")) == \
        ("QueuePause", "true", "meal", "PJSIP/op1")
    back = await _presence(client, token, "ready")
    assert (await back.json())["presence"]["presence"] == "ready"
    assert [a.name for a in fake_link.sent[-2:]] == ["QueueAdd", "QueuePause"]
    assert fake_link.sent[-1].get("Paused") == "false"


async def test_break_while_out_of_the_queue_joins_paused(client, fake_link):
    token = await login(client, "op1")
    response = await _presence(client, token, "break", reason="briefing")
    assert (await response.json())["presence"]["presence"] == "break"
    assert [a.name for a in fake_link.sent] == ["QueuePause", "QueueAdd", "QueuePause"]


async def test_log_out_sends_queue_remove(client, fake_link):
    token = await login(client, "op1")
    await _presence(client, token, "ready")
    response = await _presence(client, token, "logged_out")
    assert (await response.json())["presence"]["presence"] == "logged_out"
    assert fake_link.sent[-1].name == "QueueRemove"
    assert fake_link.sent[-1].get("Interface") == "PJSIP/op1"
    again = await _presence(client, token, "logged_out")  # "Not there" is what we wanted
    assert again.status == 200


async def test_already_there_counts_as_ready(client, fake_link):
    fake_link.members["PJSIP/op1"] = {"name": "op1", "paused": True, "reason": "rest"}
    token = await login(client, "op1")
    response = await _presence(client, token, "ready")
    assert response.status == 200
    assert [a.name for a in fake_link.sent] == ["QueueAdd", "QueuePause"]
    assert (await response.json())["presence"]["presence"] == "ready"


async def test_asterisk_away_is_a_clear_503(client, fake_link):
    token = await login(client, "op1")
    fake_link.set_connected(False)
    response = await _presence(client, token, "ready")
    assert response.status == 503
    body = await response.json()
    assert body["code"] == "asterisk"
    assert "Asterisk tidak terhubung" in body["error"]
    html = await (await client.get("/")).text()
    assert 'id="ami-down"' in html


async def test_asterisk_refusal_is_502(client, fake_link):
    token = await login(client, "op1")
    fake_link.refuse = "Unable to add interface to queue: No such queue"
    response = await _presence(client, token, "ready")
    assert response.status == 502
    assert (await response.json())["error"] == "Asterisk menolak perubahan"


async def test_presence_refusals(client, fake_link):
    token = await login(client, "op1")
    assert (await client.post("/api/me/presence", json={"presence": "ready"})).status == 403
    bad = await _presence(client, token, "asleep")
    assert bad.status == 422
    assert set((await bad.json())["errors"]) == {"presence"}
    bad_reason = await _presence(client, token, "break", reason="line\nbreak")
    assert bad_reason.status == 422
    assert set((await bad_reason.json())["errors"]) == {"reason"}
    assert fake_link.sent == []
    await login(client, "dispatcher")
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    assert (await _presence(client, token, "ready")).status == 403


async def test_presence_form_without_javascript(client, fake_link):
    await login(client, "op1")
    html = await (await client.get("/")).text()
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    response = await client.post("/presence", data={"presence": "ready", "csrf_token": token},
                                 allow_redirects=False)
    assert response.status == 303
    assert fake_link.sent[-1].name == "QueueAdd"
    fake_link.set_connected(False)
    refused = await client.post("/presence", data={"presence": "logged_out", "csrf_token": token},
                                allow_redirects=False)
    assert (refused.status, refused.headers["Location"]) == (303, "/")  # post/redirect/get
    page = await (await client.get("/")).text()
    assert "Asterisk tidak terhubung: status Anda" in page
    # shown once: a reload does not repeat an old refusal
    assert "Asterisk tidak terhubung: status Anda" not in await (await client.get("/")).text()


async def test_changes_made_elsewhere_show_and_resync_is_the_truth(client, services):
    await login(client, "op1")
    services.hub.publish(_member("PJSIP/op1", paused=True, reason="training"))
    await settle(services)
    state = await (await client.get("/api/me/state")).json()
    assert state["presence"]["presence"] == "break" and state["presence"]["pause_reason"] == "training"
    services.hub.publish(_member("PJSIP/op1", queue="some-other-queue", in_queue=False))
    await settle(services)
    assert (await (await client.get("/api/me/state")).json())["presence"]["presence"] == "break"
    services.hub.publish(MembersResynced(at=datetime.now(timezone.utc), members=(_member("PJSIP/op2"),)))
    await settle(services)
    assert (await (await client.get("/api/me/state")).json())["presence"]["presence"] == "logged_out"
    board = await (await client.get("/api/presence")).json()
    assert board["synced"] is True
    assert [(m["interface"], m["presence"]) for m in board["members"]] == [("PJSIP/op2", "ready")]


async def test_presence_is_pushed_to_the_operators_websocket(client, services):
    await login(client, "op1")
    async with client.ws_connect("/ws") as ws:
        assert (await ws.receive_json(timeout=2))["type"] == "hello"
        services.hub.publish(_member("PJSIP/op2"))  # someone else: not for op1
        services.hub.publish(_member("PJSIP/op1", paused=True, reason="meal"))
        message = await ws.receive_json(timeout=2)
        assert message["type"] == "presence"
        assert (message["interface"], message["presence"], message["label"]) == \
            ("PJSIP/op1", "break", "Istirahat")


# -- the board and the control, without the web ---------------------------------------------------


def test_board_ignores_repeats_and_other_queues():
    board = PresenceBoard(QUEUE)
    assert board.apply(_member("PJSIP/op1")) != []
    assert board.apply(_member("PJSIP/op1")) == []
    assert board.apply(_member("PJSIP/op9", queue="x")) == []
    assert board.get("PJSIP/op1").presence is Presence.READY
    assert board.get("PJSIP/op9").presence is Presence.LOGGED_OUT
    assert board.apply(_member("PJSIP/op1", in_queue=False))[0].presence is Presence.LOGGED_OUT
    assert board.members() == []
    assert board.counts() == {"ready": 0, "break": 0}


async def test_control_raises_on_real_refusals(fake_link):
    control = PresenceControl(fake_link, QUEUE)
    fake_link.refuse = "Permission denied"
    with pytest.raises(PresenceError, match="Permission denied"):
        await control.logout("PJSIP/op1")
    with pytest.raises(ValueError):
        await control.pause("PJSIP/op1", "op1", "x" * 100)


async def test_snapshot_reads_queue_status(fake_link):
    fake_link.members["PJSIP/op2"] = {"name": "op2", "paused": True, "reason": "meal"}
    resynced = await PresenceControl(fake_link, QUEUE).snapshot()
    assert [(m.interface, m.member_name, m.paused, m.pause_reason, m.status) for m in resynced.members] == \
        [("PJSIP/op2", "op2", True, "meal", 1)]


async def test_lost_events_are_recovered_from_asterisk(services, fake_link):
    """The panel's hub subscription overflowed: it asks Asterisk again and tells browsers to resync."""
    from ngcc112.panel.operator.calls import CallBoard
    from ngcc112.panel.live import LiveHub

    control = PresenceControl(fake_link, QUEUE)
    board = PresenceBoard(QUEUE)
    live = LiveHub(services.hub, board, CallBoard(), refresh=control.snapshot, subscription_size=3)
    await live.start()
    fake_link.silent = True  # what Asterisk did is not reported on the hub...
    await control.ready("PJSIP/op1", "op1")
    for n in range(5):  # ...and a burst overflows the panel's subscription
        services.hub.publish(_member(f"PJSIP/x{n}", queue="elsewhere"))
    for _ in range(20):
        await asyncio.sleep(0.01)
        if board.get("PJSIP/op1").presence is Presence.READY:
            break
    assert board.get("PJSIP/op1").presence is Presence.READY
    services.hub.publish(_member("PJSIP/op1", paused=True))  # listening again
    for _ in range(20):
        await asyncio.sleep(0.01)
        if board.get("PJSIP/op1").presence is Presence.BREAK:
            break
    assert board.get("PJSIP/op1").presence is Presence.BREAK
    await live.stop()
