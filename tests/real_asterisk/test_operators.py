"""Operators through the panel: Ready and Break change Asterisk's queue; the ringing phone's screen pops."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from .ami_listener import AmiListener
from .conftest import OPERATOR_QUEUE, PHONE_PASSWORDS, device_reachable
from .daemon import Daemon
from .sipp import Caller, Sip


class Operator:
    """An operator at the panel, speaking its JSON API and its websocket as the page does."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http, self.base = http, base
        self.csrf = ""

    async def log_in(self, username: str, password: str) -> None:
        async with self.http.get(f"{self.base}/api/session") as answer:
            self.csrf = (await answer.json())["csrf_token"]
        async with self.http.post(f"{self.base}/api/session", json={"username": username, "password": password},
                                  headers={"X-CSRF-Token": self.csrf}) as answer:
            assert answer.status == 200, await answer.text()
            self.csrf = (await answer.json())["csrf_token"]

    async def presence(self, presence: str, reason: str = "") -> dict[str, Any]:
        async with self.http.post(f"{self.base}/api/me/presence", json={"presence": presence, "reason": reason},
                                  headers={"X-CSRF-Token": self.csrf}) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()

    async def state(self) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/api/me/state") as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()


def queue_members(ami: AmiListener) -> dict[str, dict[str, str]]:
    return {f.get("Location"): {"paused": f.get("Paused"), "reason": f.get("PausedReason")}
            for f in ami.action("QueueStatus", Queue=OPERATOR_QUEUE) if f.event == "QueueMember"}


def test_ready_and_break_in_the_panel_are_what_asterisks_queue_shows(ami: AmiListener, sip: Sip,
                                                                      daemon: Daemon) -> None:
    daemon.add_user("op1", "operator", "op1-panel-password", interface="PJSIP/op1")
    sip.phone("op1", PHONE_PASSWORDS["op1"])
    device_reachable(ami, "PJSIP/op1")

    async def scenario() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            operator = Operator(http, daemon.url)
            await operator.log_in("op1", "op1-panel-password")
            await operator.presence("ready")
            ami.wait_event("QueueMemberAdded", timeout=10, Interface="PJSIP/op1", Queue=OPERATOR_QUEUE)
            assert queue_members(ami)["PJSIP/op1"]["paused"] == "0"

            await operator.presence("break", "meal")
            ami.wait_event("QueueMemberPause", timeout=10, Interface="PJSIP/op1", Paused="1")
            assert queue_members(ami)["PJSIP/op1"] == {"paused": "1", "reason": "meal"}

            await operator.presence("ready")
            ami.wait_event("QueueMemberPause", timeout=10, Interface="PJSIP/op1", Paused="0")
            assert queue_members(ami)["PJSIP/op1"]["paused"] == "0"

    asyncio.run(scenario())


def test_the_screen_pop_reaches_the_operator_whose_phone_rings(ami: AmiListener, sip: Sip, daemon: Daemon) -> None:
    daemon.add_user("op2", "operator", "op2-panel-password", interface="PJSIP/op2")
    daemon.add_user("op3", "operator", "op3-panel-password", interface="PJSIP/op3")
    sip.phone("op2", PHONE_PASSWORDS["op2"], ring_ms=3000, talk_ms=3000)
    device_reachable(ami, "PJSIP/op2")

    async def scenario() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as op2_http, aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as op3_http:
            op2, op3 = Operator(op2_http, daemon.url), Operator(op3_http, daemon.url)
            await op2.log_in("op2", "op2-panel-password")
            await op3.log_in("op3", "op3-panel-password")
            await op2.presence("ready")
            ami.wait_event("QueueMemberAdded", timeout=10, Interface="PJSIP/op2")
            async with op2_http.ws_connect(f"{daemon.url}/ws") as op2_ws, \
                    op3_http.ws_connect(f"{daemon.url}/ws") as op3_ws:
                mark = ami.mark()
                caller = sip.call(Caller(number="5553101", name="Ibu Sari", hold_ms=15000))
                ringing = None
                while ringing is None:
                    message = await asyncio.wait_for(op2_ws.receive_json(), 30)
                    if message.get("type") == "call" and message.get("ringing"):
                        ringing = message["ringing"]
                called = ami.events("AgentCalled", Interface="PJSIP/op2")
                assert called and called[0].get("Linkedid") == ringing
                desk = (await op2.state())["desk"]
                if desk["ringing"] is not None:  # the phone may already have been answered
                    assert desk["ringing"]["caller_number"] == "5553101"
                    assert desk["ringing"]["caller_name"] == "Ibu Sari"
                ami.wait_event("AgentConnect", timeout=20, Interface="PJSIP/op2")
                # op3 is not in the queue: its desk never rang
                while not op3_ws.closed:
                    try:
                        message = await asyncio.wait_for(op3_ws.receive_json(), 0.5)
                    except asyncio.TimeoutError:
                        break
                    assert not (message.get("type") == "call" and message.get("ringing")), message
                assert caller.wait(30) == 0, caller.errors()
                assert ringing in ami.calls(since=mark)

    asyncio.run(scenario())
