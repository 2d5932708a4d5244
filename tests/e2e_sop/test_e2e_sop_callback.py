"""A caller hangs up in the queue; an operator calls back through the real daemon and the
simulator: one Originate from the operator's softphone, its OriginateResponse recorded."""

from __future__ import annotations

import asyncio

import aiohttp

from ngcc112 import names
from ngcc112.sim.calls import CallScript


async def _wait(predicate, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def test_abandoned_caller_is_called_back_once_and_the_result_is_audited(stack):
    call = await stack.sim.place_call(CallScript(number="081299998888", hangup_after=2.0))

    async def abandoned():
        ticket = await stack.services.store.by_linkedid(call.linkedid)
        return ticket if ticket is not None and ticket.abandoned and ticket.ended_at else None

    ticket = await _wait(abandoned)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=1.0, talk_seconds=3.0)
    async with aiohttp.ClientSession(base_url=stack.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        token = (await (await http.get("/api/session")).json())["csrf_token"]
        login = await http.post("/api/session", json={"username": "op1", "password": "op1-demo-112"},
                                headers={"X-CSRF-Token": token})
        token = (await login.json())["csrf_token"]
        response = await http.post(f"/api/dispatch/tickets/{ticket.id}/callback", json={"request_id": "one-click"},
                                   headers={"X-CSRF-Token": token})
        assert response.status == 202, await response.text()
        callback = (await response.json())["callback"]
        again = await http.post(f"/api/dispatch/tickets/{ticket.id}/callback", json={"request_id": "one-click"},
                                headers={"X-CSRF-Token": token})
        assert again.status == 409

    async def result():
        rows = [a for a in await stack.services.store.audit(ticket.id) if a.action == "callback_result"]
        return rows

    [row] = await _wait(result)
    assert row.changes["action_id"] == callback["action_id"]
    assert (row.changes["result"], row.changes["reason"]) == ("success", "4")
    originates = stack.actions("Originate")
    assert len(originates) == 1
    [sent] = originates
    assert (sent.get("Channel"), sent.get("Context"), sent.get("Exten"), sent.get("Async"), sent.get("ActionID")) == \
        ("PJSIP/op1", names.OPERATOR_CONTEXT, "081299998888", "true", callback["action_id"])
