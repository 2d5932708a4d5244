"""Placing a call: the caller's first channel events, its SIP authentication, and its task.

A call comes in as a :class:`~ngcc112.sim.calls.CallScript` (from the traffic
generator, a test, or an AMI ``Originate``); this is where it gets its channels
and its first events, and where its dialplan (:mod:`ngcc112.sim.flow`) is started.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine

import structlog

from ngcc112 import names
from ngcc112.sim.calls import CallScript, PlacedCall
from ngcc112.sim.core import EngineCore
from ngcc112.sim.flow import CallFlow
from ngcc112.sim.model import UNKNOWN
from ngcc112.sim.run import CallRun, caller_id
from ngcc112.sim.wire import Pairs

log = structlog.get_logger(__name__)


class CallPlacing:
    """Placing calls: the first events of a call, then its dialplan as a task."""

    def __init__(self, core: EngineCore, flow: CallFlow) -> None:
        self.core = core
        self.flow = flow

    def place(self, script: CallScript, originate_action_id: str = "") -> PlacedCall:
        placed = PlacedCall(script)
        flow = script.flow or self.core.config.flow
        number, name, _pres = caller_id(script)
        if script.kind == "PJSIP":
            leg = self.core.new_channel(
                self.core.pjsip_name(script.endpoint),
                state=4,
                cid_num=number,
                cid_name=name,
                context=names.INCOMING_CONTEXT,
                exten=script.exten,
            )
            run = CallRun(script=script, placed=placed, flow=flow, leg=leg)
        else:
            base = f"Local/{script.exten}@{names.INCOMING_CONTEXT}-{self.core.next_local_seq():08x}"
            one = self.core.new_channel(
                f"{base};1",
                state=0,
                cid_num=UNKNOWN,
                cid_name=UNKNOWN,
                context=names.INCOMING_CONTEXT,
                exten=script.exten,
            )
            two = self.core.new_channel(
                f"{base};2",
                state=4,
                cid_num=UNKNOWN,
                cid_name=UNKNOWN,
                context=names.INCOMING_CONTEXT,
                exten=script.exten,
                linkedid=one.uniqueid,
            )
            run = CallRun(
                script=script, placed=placed, flow=flow, leg=two, local1=one, originate_action_id=originate_action_id
            )
        for chan in (run.leg, run.local1):
            if chan is not None:
                chan.call = run
        placed.channel, placed.uniqueid, placed.linkedid = run.leg.name, run.leg.uniqueid, run.leg.linkedid
        self.core.add_call(run)
        self._start_events(run)
        run.task = asyncio.create_task(self._guard(run, self.flow.run_dialplan(run)), name=f"sim-call-{run.leg.name}")
        log.debug("sim.call_placed", channel=run.leg.name, number=script.number, flow=flow)
        return placed

    async def _guard(self, run: CallRun, coro: Coroutine[object, object, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sim.call_failed", channel=run.leg.name)
            self.core.end_run(run, "failed")

    def _start_events(self, run: CallRun) -> None:
        script, leg = run.script, run.leg
        number, name, _pres = caller_id(script)
        if run.local1 is None:
            if run.flow != "shipped":  # the shipped trunk is identified by address: no digest
                self._sip_auth(script.endpoint)
            self.core.emit("Newchannel", "call", leg.block())
            self.core.varset(leg, "SIPDOMAIN", "127.0.0.1")
            for var, value in script.variables:
                self.core.varset(leg, var, value)
            return
        one = run.local1
        self.core.emit("Newchannel", "call", one.block())
        self.core.emit("Newchannel", "call", leg.block())
        one.application, one.appdata = "AppDial2", "(Outgoing Line)"
        self.core.emit(
            "Newexten",
            "dialplan",
            one.block(),
            [("Extension", one.exten), ("Application", "AppDial2"), ("AppData", "(Outgoing Line)")],
        )
        for var, value in script.variables:
            self.core.varset(one, var, value)
            self.core.varset(leg, var, value)
        if (number, name) != (UNKNOWN, UNKNOWN):  # an empty CallerID changes nothing (k_ 1c)
            for chan in (one, leg):
                chan.cid_num, chan.cid_name = number, name
                self.core.emit(
                    "NewCallerid", "call", chan.block(), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
                )
            for chan in (one, leg):
                chan.cl_num, chan.cl_name = number, name
                self.core.emit("NewConnectedLine", "call", chan.block())
        self.core.emit(
            "LocalBridge",
            "call",
            one.block("LocalOne"),
            leg.block("LocalTwo"),
            [("Context", leg.context), ("Exten", leg.exten), ("LocalOptimization", "No")],
        )
        self.core.emit("DialBegin", "call", one.block("Dest"), [("DialString", f"{leg.exten}@{leg.context}")])
        if script.local_exten is not None:
            self.flow.originate_response(run)

    def _sip_auth(self, endpoint: str) -> None:
        """The digest challenge and success res_pjsip reports for an INVITE (security class)."""
        stamp = time.gmtime(self.core.wall())
        millis = int(self.core.wall() * 1000) % 1000
        tv = time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{millis:03d}+0000"
        common: Pairs = [
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "PJSIP"),
            ("EventVersion", "1"),
            ("AccountID", endpoint),
            ("SessionID", f"{self.core.seq}-{5081 + self.core.seq}@127.0.0.1"),
            ("LocalAddress", "IPV4/UDP/127.0.0.1/5060"),
            ("RemoteAddress", "IPV4/UDP/127.0.0.1/5081"),
        ]
        self.core.emit("ChallengeSent", "security", common, [("Challenge", "")])
        self.core.emit("SuccessfulAuth", "security", common, [("UsingPassword", "1")])
