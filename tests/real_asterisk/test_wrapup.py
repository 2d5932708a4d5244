"""After-call work on a real Asterisk: the operator's call ends, the daemon pauses the member with
the wrap-up reason, resumes it at the limit; a daemon killed mid wrap-up resumes it when it is back."""

from __future__ import annotations

import asyncio
import time

import aiohttp

from .ami_listener import AmiListener
from .conftest import OPERATOR_QUEUE, PHONE_PASSWORDS, device_reachable
from .daemon import Daemon
from .sipp import Caller, Sip
from .test_operators import Operator, queue_members

LIMIT = 5


def next_pause(ami: AmiListener, paused: str, timeout: float, what: str):  # type: ignore[no-untyped-def]
    """Wait for the next QueueMemberPause of op1 with ``Paused: paused``; return it."""
    seen = len(ami.events("QueueMemberPause", Interface="PJSIP/op1", Paused=paused))
    def wait():  # type: ignore[no-untyped-def]
        return ami.wait_event("QueueMemberPause", timeout=timeout, count=seen + 1,
                              Interface="PJSIP/op1", Paused=paused)[-1]
    return wait


def test_wrap_up_pauses_after_the_call_and_the_limit_or_a_restart_resumes(ami: AmiListener, sip: Sip,
                                                                          daemon: Daemon) -> None:
    daemon.stop()
    daemon.env["NGCC112_WRAPUP_SECONDS"] = str(LIMIT)
    daemon.start()
    daemon.add_user("op1", "operator", "op1-panel-password", interface="PJSIP/op1")
    sip.phone("op1", PHONE_PASSWORDS["op1"], ring_ms=500, talk_ms=2000)
    device_reachable(ami, "PJSIP/op1")

    async def go_ready() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            operator = Operator(http, daemon.url)
            await operator.log_in("op1", "op1-panel-password")
            await operator.presence("ready")

    asyncio.run(go_ready())
    ami.wait_event("QueueMemberAdded", timeout=10, Interface="PJSIP/op1", Queue=OPERATOR_QUEUE)

    # 1. the operator hangs up after talking: Asterisk shows the member paused for wrap-up
    pause = next_pause(ami, "1", 40, "the wrap-up pause")
    caller = sip.call(Caller(number="5554101", name="Ibu Wati", hold_ms=20000))
    ami.wait_event("AgentComplete", timeout=40, Interface="PJSIP/op1")
    assert pause().get("PausedReason") == "wrap-up"
    assert queue_members(ami)["PJSIP/op1"] == {"paused": "1", "reason": "wrap-up"}
    started = time.monotonic()
    resume = next_pause(ami, "0", LIMIT + 15, "the resume at the limit")
    # ... and unpaused once the limit passed (nobody submitted the intake)
    resume()
    assert time.monotonic() - started >= LIMIT - 1.5
    assert queue_members(ami)["PJSIP/op1"]["paused"] == "0"
    assert caller.wait(30) == 0, caller.errors()

    # 2. a daemon that dies mid wrap-up: Asterisk keeps the pause; the daemon resumes it when back
    pause = next_pause(ami, "1", 40, "the second wrap-up pause")
    second = sip.call(Caller(number="5554102", name="Pak Joko", hold_ms=20000))
    assert pause().get("PausedReason") == "wrap-up"
    daemon.kill()
    time.sleep(LIMIT + 1)  # the limit passes while nothing watches: Asterisk still holds the pause
    assert queue_members(ami)["PJSIP/op1"] == {"paused": "1", "reason": "wrap-up"}
    resume = next_pause(ami, "0", 30, "the resume after the restart")
    daemon.start()
    resume()
    assert queue_members(ami)["PJSIP/op1"]["paused"] == "0"
    assert second.wait(30) == 0, second.errors()
