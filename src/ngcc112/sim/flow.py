"""The call flow: a caller through the dialplan, the queue, an operator, and back out.

Three dialplans are here: the shipped one (``asterisk-config/extensions.conf``, the
r_ recordings: category, Answer, TALK_DETECT, CID presentation, ngcc-geo, the
silent-call prompt, then the queue loop operators → supervisors → operators …),
the "final" one the f_..m_ recordings used (beep prompt, one overflow) and the
first, "legacy" one of the a_..e_ recordings (Answer, Queue). The caller's own
hang-up is part of the flow; what AMI clients do to a call is in
:mod:`ngcc112.sim.engine`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
import uuid
from collections.abc import Coroutine
from typing import Any

import structlog

from ngcc112 import names
from ngcc112.clock import wait_for
from ngcc112.sim.calls import CallScript, PlacedCall, TalkBurst
from ngcc112.sim.model import UNKNOWN, Bridge, Channel, Entry, Member, Queue, Softphone
from ngcc112.sim.wire import Pairs

from ngcc112.sim.core import (
    PHASE_BRIDGED,
    PHASE_DIALPLAN,
    PHASE_DONE,
    PHASE_PROMPT,
    PHASE_QUEUE,
    CallRun,
    EngineCore,
    caller_id,
    cid_all,
)

log = structlog.get_logger(__name__)


class CallFlow(EngineCore):
    """Placing calls and running them: dialplan, prompt, queue, ringing, bridge, hang-up."""

    def place(self, script: CallScript, originate_action_id: str = "") -> PlacedCall:
        placed = PlacedCall(script)
        flow = script.flow or self.config.flow
        number, name, _pres = caller_id(script)
        if script.kind == "PJSIP":
            leg = self._new_channel(
                self._pjsip_name(script.endpoint),
                state=4,
                cid_num=number,
                cid_name=name,
                context=names.INCOMING_CONTEXT,
                exten=script.exten,
            )
            run = CallRun(script=script, placed=placed, flow=flow, leg=leg)
        else:
            base = f"Local/{script.exten}@{names.INCOMING_CONTEXT}-{self._local_seq:08x}"
            self._local_seq += 1
            one = self._new_channel(
                f"{base};1",
                state=0,
                cid_num=UNKNOWN,
                cid_name=UNKNOWN,
                context=names.INCOMING_CONTEXT,
                exten=script.exten,
            )
            two = self._new_channel(
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
        self.calls.add(run)
        self._idle.clear()
        self._start_events(run)
        run.task = asyncio.create_task(self._guard(run, self._flow(run)), name=f"sim-call-{run.leg.name}")
        log.debug("sim.call_placed", channel=run.leg.name, number=script.number, flow=flow)
        return placed

    async def _guard(self, run: CallRun, coro: Coroutine[object, object, None]) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sim.call_failed", channel=run.leg.name)
            self._end_run(run, "failed")

    def _start_events(self, run: CallRun) -> None:
        script, leg = run.script, run.leg
        number, name, _pres = caller_id(script)
        if run.local1 is None:
            if run.flow != "shipped":  # the shipped trunk is identified by address: no digest
                self._sip_auth(script.endpoint)
            self.emit("Newchannel", "call", leg.block())
            self.varset(leg, "SIPDOMAIN", "127.0.0.1")
            for var, value in script.variables:
                self.varset(leg, var, value)
            return
        one = run.local1
        self.emit("Newchannel", "call", one.block())
        self.emit("Newchannel", "call", leg.block())
        one.application, one.appdata = "AppDial2", "(Outgoing Line)"
        self.emit(
            "Newexten",
            "dialplan",
            one.block(),
            [("Extension", one.exten), ("Application", "AppDial2"), ("AppData", "(Outgoing Line)")],
        )
        for var, value in script.variables:
            self.varset(one, var, value)
            self.varset(leg, var, value)
        if (number, name) != (UNKNOWN, UNKNOWN):  # an empty CallerID changes nothing (k_ 1c)
            for chan in (one, leg):
                chan.cid_num, chan.cid_name = number, name
                self.emit(
                    "NewCallerid", "call", chan.block(), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
                )
            for chan in (one, leg):
                chan.cl_num, chan.cl_name = number, name
                self.emit("NewConnectedLine", "call", chan.block())
        self.emit(
            "LocalBridge",
            "call",
            one.block("LocalOne"),
            leg.block("LocalTwo"),
            [("Context", leg.context), ("Exten", leg.exten), ("LocalOptimization", "No")],
        )
        self.emit("DialBegin", "call", one.block("Dest"), [("DialString", f"{leg.exten}@{leg.context}")])
        if script.local_exten is not None:
            self._originate_response(run)

    def _sip_auth(self, endpoint: str) -> None:
        """The digest challenge and success res_pjsip reports for an INVITE (security class)."""
        stamp = time.gmtime(self.wall())
        millis = int(self.wall() * 1000) % 1000
        tv = time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{millis:03d}+0000"
        common: Pairs = [
            ("EventTV", tv),
            ("Severity", "Informational"),
            ("Service", "PJSIP"),
            ("EventVersion", "1"),
            ("AccountID", endpoint),
            ("SessionID", f"{self._seq}-{5081 + self._seq}@127.0.0.1"),
            ("LocalAddress", "IPV4/UDP/127.0.0.1/5060"),
            ("RemoteAddress", "IPV4/UDP/127.0.0.1/5081"),
        ]
        self.emit("ChallengeSent", "security", common, [("Challenge", "")])
        self.emit("SuccessfulAuth", "security", common, [("UsingPassword", "1")])

    def _originate_response(self, run: CallRun) -> None:
        one, script = run.local1, run.script
        assert one is not None
        if not run.originate_action_id:
            return
        number, name, _ = caller_id(script)
        pairs: Pairs = [("ActionID", run.originate_action_id), ("Response", "Success"), ("Channel", one.name)]
        if script.local_exten is not None:
            pairs += [("Context", "ngcc-test"), ("Exten", script.local_exten)]
        else:
            pairs += [("Application", script.local_application), ("Data", self._local_data(script))]
        pairs += [("Reason", "4"), ("Uniqueid", one.uniqueid), ("CallerIDNum", number), ("CallerIDName", name)]
        self.emit("OriginateResponse", "call", pairs)

    @staticmethod
    def _local_data(script: CallScript) -> str:
        if script.hangup_after is None:
            return "3600"
        return f"{script.hangup_after:g}"

    async def _flow(self, run: CallRun) -> None:
        if run.flow == "shipped":
            await self._shipped_flow(run)
        else:
            await self._older_flow(run)

    def _answer_leg(self, run: CallRun) -> None:
        """``Answer()``: the 112 leg goes Up (a Local caller's half too)."""
        leg, script = run.leg, run.script
        self.newstate(leg, 6)
        run.answered_at = self.now()
        if run.local1 is not None:
            one = run.local1
            self.newstate(one, 6)
            self.emit("DialEnd", "call", one.block("Dest"), [("DialStatus", "ANSWER")])
            if script.local_exten is None:
                one.application, one.appdata = script.local_application, self._local_data(script)
                self._originate_response(run)
            else:
                run.tasks.append(asyncio.create_task(self._local_half(run)))
        else:
            self.device_state(f"PJSIP/{script.endpoint}", "INUSE")
        self._arm_caller_timer(run)

    def _set(self, run: CallRun, priority: int, variable: str, value: str) -> None:
        """``Set(variable=value)`` at ``priority``: Newexten, then VarSet."""
        self.newexten(run.leg, priority, "Set", f"{variable}={value}")
        self.varset(run.leg, variable, value)

    async def _shipped_flow(self, run: CallRun) -> None:
        """asterisk-config/extensions.conf ``[from-pstn]``, step by step (r_ recordings)."""
        leg, script = run.leg, run.script
        number, name, pres = caller_id(script)
        self.newexten(leg, 1, "NoOp", f"NGCC 112 call from {cid_all(number, name)} on {leg.name} to {leg.exten}")
        self._set(run, 2, names.VAR_CATEGORY, names.EMERGENCY_NUMBERS[script.exten])
        self.newexten(leg, 3, "Answer", "")
        self._answer_leg(run)
        # Answer() waits for the answered channel's media before the next step
        await self.sleep(self.config.answer_seconds)
        self.newexten(leg, 4, "Set", "TALK_DETECT(set)=")
        for burst in script.talk:
            run.tasks.append(asyncio.create_task(self._talk(run, burst)))
        self._set(run, 5, f"__{names.VAR_CALL_MARK}", "1")
        self._set(run, 6, names.VAR_ANSWERED_AT, str(int(self.wall())))
        self._set(run, 7, names.VAR_CID_PRES, pres)
        is_sip = script.kind == "PJSIP"
        self.newexten(leg, 8, "GosubIf", f"{1 if is_sip else 0}?ngcc-geo,s,1()")
        if is_sip:
            self._geo(run, 8)
        prompt = f"{self.config.astdatadir}/sounds/id/ngcc112-silent-prompt"
        self._set(run, 9, "NGCC_PROMPT", prompt)
        installed = self.config.prompt_sound
        self.newexten(leg, 10, "ExecIf", f"{0 if installed else 1}?Set(NGCC_PROMPT=beep)")
        if not installed:
            prompt = "beep"
            self.varset(leg, "NGCC_PROMPT", prompt)
        run.phase = PHASE_PROMPT
        digit = await self._prompt(run, 11, prompt, self.config.prompt_seconds if installed else 0.5)
        self._set(run, 12, names.VAR_SILENT_READSTATUS, "OK" if digit else "TIMEOUT")
        run.phase = PHASE_DIALPLAN
        if script.dtmf is not None and not leg.variables.get(names.VAR_SILENT_DIGIT):
            run.tasks.append(asyncio.create_task(self._dtmf(run)))
        queued = "app_queue.so" in self.config.modules_loaded
        timeout = self.config.queue_timeout
        while True:  # the queue loop: only the caller hanging up (or an operator) ends it
            self.newexten(leg, 13, "GotoIf", f"{0 if queued else 1}?direct")
            if queued:
                result = await self._queue_app(run, 14, names.OPERATOR_QUEUE, timeout)
                if result == "ANSWERED":  # the call has ended with its operator
                    return
                self._set(run, 15, "NGCC_QUEUE_RESULT", result)
                self._set(run, 16, "QUEUE_PRIO", "10")
                result = await self._queue_app(run, 17, names.SUPERVISOR_QUEUE, timeout)
                if result == "ANSWERED":
                    return
                self._set(run, 18, "NGCC_QUEUE_RESULT", result)
                again = result in ("TIMEOUT", "WITHDRAW")
                self.newexten(leg, 19, "GotoIf", f"{1 if again else 0}?queue")
                if again:
                    continue
            # no queue to join: ring every phone directly (not simulated: nobody answers)
            self.newexten(leg, 20, "Dial", "PJSIP/op1&PJSIP/op2&PJSIP/op3,30")
            await self.sleep(30.0)
            self.varset(leg, "DIALSTATUS", "NOANSWER")
            self.newexten(leg, 21, "MusicOnHold", ",2")
            await self.sleep(2.0)
            self.newexten(leg, 22, "Wait", "1")
            await self.sleep(1.0)
            self.newexten(leg, 23, "Goto", "queue")

    async def _queue_app(self, run: CallRun, priority: int, name: str, timeout: float) -> str:
        """``Queue(name,,,,timeout)`` at ``priority``: its QUEUESTATUS (an unknown queue:
        Asterisk's ``UNKNOWN``, and the dialplan goes on)."""
        self.newexten(run.leg, priority, "Queue", f"{name},,,,{timeout:g}")
        queue = self.queues.get(name)
        if queue is None:
            self.varset(run.leg, "QUEUESTATUS", "UNKNOWN")
            return "UNKNOWN"
        return await self._queue(run, queue, timeout)

    async def _older_flow(self, run: CallRun) -> None:
        """The f_..m_ recordings' dialplan ("final") and the a_..e_ one ("legacy")."""
        leg, script = run.leg, run.script
        number, name, pres = caller_id(script)
        self.newexten(leg, 1, "NoOp", f"NGCC 112 call from {cid_all(number, name)} on {leg.name}")
        self.newexten(leg, 2, "Answer", "")
        self._answer_leg(run)
        final = run.flow == "final"
        prio = 3
        if final:
            self.newexten(leg, prio, "Set", "TALK_DETECT(set)=")
            prio += 1
            for burst in script.talk:
                run.tasks.append(asyncio.create_task(self._talk(run, burst)))
        self.newexten(leg, prio, "ExecIf", "0?Set(CALLERID(num)=)")
        self.newexten(leg, prio + 1, "ExecIf", "0?Set(CALLERID(name)=)")
        prio += 2
        self._set(run, prio, f"__{names.VAR_CALL_MARK}", "1")
        prio += 1
        self._set(run, prio, names.VAR_ANSWERED_AT, str(int(self.wall())))
        prio += 1
        category = names.EMERGENCY_NUMBERS[script.exten]
        if category:
            self._set(run, prio, names.VAR_CATEGORY, category)
            prio += 1
        if final:
            self._set(run, prio, names.VAR_CID_PRES, pres)
            prio += 1
            is_sip = script.kind == "PJSIP"
            self.newexten(leg, prio, "GosubIf", f"{1 if is_sip else 0}?ngcc-geo,s,1")
            if is_sip:
                self._geo(run, prio)
            prio += 1
            run.phase = PHASE_PROMPT
            digit = await self._prompt(run, prio, "beep", 0.5)
            prio += 1
            self._set(run, prio, names.VAR_SILENT_READSTATUS, "OK" if digit else "TIMEOUT")
            prio += 1
            run.phase = PHASE_DIALPLAN
        if script.dtmf is not None and not leg.variables.get(names.VAR_SILENT_DIGIT):
            run.tasks.append(asyncio.create_task(self._dtmf(run)))
        self.newexten(leg, prio, "Queue", f"{names.OPERATOR_QUEUE},,,,{self.config.queue_timeout:g}")
        result = await self._queue(run, self.queues[names.OPERATOR_QUEUE], self.config.queue_timeout)
        if result == "WITHDRAW":  # this dialplan hangs up a withdrawn caller (j_)
            self.newexten(leg, prio + 1, "NoOp", "Queue result WITHDRAW")
            self.newexten(leg, prio + 2, "Hangup", "")
            self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            self.hangup_channel(leg, 16)
            if run.local1 is not None:
                self.emit("HangupRequest", "call", run.local1.block(), [("Cause", "16")])
                self.hangup_channel(run.local1, 16)
            self._end_run(run, "withdrawn")
            return
        if result == "TIMEOUT":
            prio += 1
            self.newexten(leg, prio, "NoOp", "Queue result TIMEOUT")
            prio += 1
            self.newexten(leg, prio, "Queue", f"{names.SUPERVISOR_QUEUE},,,,")
            supervisors = self.queues.get(names.SUPERVISOR_QUEUE)
            if supervisors is not None:
                await self._queue(run, supervisors, None)

    def _geo(self, run: CallRun, return_prio: int) -> None:
        leg, loc = run.leg, run.script.location
        self.varset(leg, "LOCAL(ARGC)", "0")
        ctx = "ngcc-geo"
        header = loc.header if loc else ""
        self.newexten(leg, 1, "Set", f"{names.VAR_GEO_HEADER}={header}", context=ctx, exten="s")
        self.varset(leg, names.VAR_GEO_HEADER, header)
        self.newexten(leg, 2, "GotoIf", f"{0 if header else 1}?done")
        if loc is not None and header:
            self.newexten(leg, 3, "Set", f"NGCC_GEO_ROUTING={loc.routing}")
            self.varset(leg, "NGCC_GEO_ROUTING", loc.routing)
            loaded = "res_geolocation.so" in self.config.modules_loaded
            self.newexten(leg, 4, "GotoIf", f"{0 if loaded else 1}?done")
            if loaded:
                fields = [
                    ("FORMAT", loc.format),
                    ("LOCATION", loc.location),
                    ("EFFECTIVE", loc.effective or loc.location),
                    ("METHOD", loc.method),
                    ("ELEMENT", loc.element),
                    ("ELEMENT_ID", loc.element_id),
                    ("DEVICE_ID", loc.device_id),
                    ("CONFIDENCE", loc.confidence),
                    ("ROUTING_USE", loc.routing_use),
                    ("USAGE", loc.usage),
                    ("REFERENCE", loc.reference),
                    ("SOURCE", loc.source),
                    ("PROFILE_ID", loc.profile_id),
                ]
                for i, (suffix, value) in enumerate(fields):
                    self.varset(leg, "GEOLOCPROFILESTATUS", "0")
                    var = f"{names.VAR_GEO_PREFIX}{suffix}"
                    self.newexten(leg, 5 + i, "Set", f"{var}={value}")
                    self.varset(leg, var, value)
        self.newexten(leg, 18, "Return", "")
        self.varset(leg, "ARGC", "")
        self.varset(leg, "GOSUB_RETVAL", "")
        leg.context, leg.exten, leg.priority = names.INCOMING_CONTEXT, run.script.exten, return_prio

    async def _prompt(self, run: CallRun, prio: int, sound: str, playing: float) -> str:
        """``Read(NGCC_SILENT_DIGIT,<sound>,1,,1,3)``: ``sound`` plays for ``playing`` seconds,
        then the digit timer runs; a digit ends it at once. The digit read, or ""."""
        leg, script = run.leg, run.script
        seconds = names.SILENT_PROMPT_SECONDS
        self.newexten(leg, prio, "Read", f"{names.VAR_SILENT_DIGIT},{sound},1,,1,{seconds}")
        self.varset(leg, "READSTATUS", "ERROR")
        prompt_end = self.now() + playing + seconds
        if script.dtmf is not None and run.answered_at + script.dtmf_at < prompt_end:
            await self._dtmf(run)
            self.varset(leg, names.VAR_SILENT_DIGIT, script.dtmf)
            self.varset(leg, "READSTATUS", "OK")
            return script.dtmf
        await self.sleep(prompt_end - self.now())
        self.varset(leg, names.VAR_SILENT_DIGIT, "")
        self.varset(leg, "READSTATUS", "TIMEOUT")
        return ""

    async def _dtmf(self, run: CallRun) -> None:
        """The caller's key press: DTMFBegin, held, DTMFEnd (Direction Received, 112 leg)."""
        leg, script = run.leg, run.script
        assert script.dtmf is not None
        await self.sleep(run.answered_at + script.dtmf_at - self.now())
        self.emit("DTMFBegin", "dtmf", leg.block(), [("Digit", script.dtmf), ("Direction", "Received")])
        held = script.dtmf_ms if script.dtmf_ms is not None else (280 if script.kind == "PJSIP" else 250)
        await self.sleep(held / 1000)
        self.emit(
            "DTMFEnd",
            "dtmf",
            leg.block(),
            [("Digit", script.dtmf), ("DurationMs", str(held)), ("Direction", "Received")],
        )

    async def _talk(self, run: CallRun, burst: TalkBurst) -> None:
        await self.sleep(run.answered_at + burst.at - self.now())
        if run.phase == PHASE_DONE:
            return
        self.emit("ChannelTalkingStart", "call", run.leg.block())
        if not burst.silence_after:
            return
        await self.sleep(burst.seconds + 2.5)
        if run.phase == PHASE_DONE:
            return
        self.emit("ChannelTalkingStop", "call", run.leg.block(), [("Duration", str(int(burst.seconds * 1000)))])

    def _local_half_steps(self, run: CallRun) -> list[tuple[str, str, float]]:
        """What the caller half (Local;1) runs in ``ngcc-test,<exten>`` (dialplan-used.conf)."""
        exten = run.script.local_exten or "wait"
        wait = dict(run.script.variables).get("NGCC_WAIT", "")
        if exten == "dtmf5":
            tail = float(wait) if wait else 8.0
            return [("Wait", "1", 1.0), ("SendDTMF", "5,,250", 0.25), ("Wait", f"{tail:g}", tail)]
        if exten == "talk":
            tail = float(wait) if wait else 1.0
            return [
                ("Wait", "4", 4.0),
                ("Playback", "hello-world&silence/4&tt-weasels&silence/4", 12.3),
                ("Wait", f"{tail:g}", tail),
            ]
        tail = float(wait) if wait else 60.0
        return [("Answer", "", 0.0), ("Wait", f"{tail:g}", tail)]

    async def _local_half(self, run: CallRun) -> None:
        one = run.local1
        assert one is not None
        one.context, one.exten = "ngcc-test", run.script.local_exten or "wait"
        for priority, (app, data, seconds) in enumerate(self._local_half_steps(run), start=1):
            self.newexten(one, priority, app, data)
            await self.sleep(seconds)
            if app == "Playback":
                self.varset(one, "PLAYBACKSTATUS", "SUCCESS")
        self.caller_hangup(run)

    async def _queue(self, run: CallRun, queue: Queue, timeout: float | None) -> str:
        """app_queue's ``Queue()`` for one caller: its QUEUESTATUS once the dialplan goes on
        ("TIMEOUT", "WITHDRAW"); an answered call never returns before it ends."""
        leg = run.leg
        for var in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self.varset(leg, var, "")
        if run.flow != "final":
            for var in ("QUEUEWAIT", "QUEUEWAIT_MS"):
                self.varset(leg, var, "")
        if "ABANDONED" in leg.variables:  # left over from the queue before: cleared
            del leg.variables["ABANDONED"]
            self.varset(leg, "ABANDONED", "")
        try:
            priority = int(leg.variables.get("QUEUE_PRIO", "0") or "0")
        except ValueError:
            priority = 0
        self._entry_seq += 1
        loop = asyncio.get_running_loop()
        entry = Entry(
            call=run,
            joined=self.now(),
            seq=self._entry_seq,
            original_position=0,
            priority=priority,
            withdraw=loop.create_future(),
        )
        queue.insert(entry)
        entry.original_position = queue.position(entry)
        queue.joined_total += 1
        run.queue, run.entry, run.phase = queue, entry, PHASE_QUEUE
        self.emit(
            "QueueCallerJoin",
            "agent",
            leg.block(),
            [("Queue", queue.name), ("Position", str(entry.original_position)), ("Count", str(len(queue.entries)))],
        )
        if self._hold_music(run):
            self.emit("MusicOnHoldStart", "call", leg.block(), [("Class", "default")])
        deadline = None if timeout is None else entry.joined + timeout
        withdraw = entry.withdraw
        assert withdraw is not None  # set when the caller joined
        while True:
            entry.offer = loop.create_future()
            self.dispatch(queue)
            await self._until(deadline, entry.offer, withdraw)
            if withdraw.done():
                return self._queue_exit(run, "WITHDRAW")
            if not entry.offer.done() or entry.offer.cancelled():
                return self._queue_exit(run, "TIMEOUT")
            answered = await self._ring(run, queue, entry, entry.offer.result(), deadline)
            if answered:
                return "ANSWERED"
            if not withdraw.done():  # queues.conf retry, within the Queue() timeout
                retry_end = self.now() + self.config.member_retry
                await self._until(retry_end if deadline is None else min(retry_end, deadline), withdraw)
            if withdraw.done():
                return self._queue_exit(run, "WITHDRAW")
            if deadline is not None and self.now() >= deadline:
                return self._queue_exit(run, "TIMEOUT")

    async def _until(self, deadline: float | None, *futures: asyncio.Future[Any]) -> None:
        """Until one of ``futures`` is done or the clock reaches ``deadline`` (the futures stay)."""
        waiting = asyncio.ensure_future(asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED))
        try:
            if deadline is None:
                await waiting
            else:
                await wait_for(self.clock, waiting, max(deadline - self.now(), 0.0))
        except TimeoutError:
            pass

    def _hold_music(self, run: CallRun) -> bool:
        """The older labs had hold music (MusicOnHoldStart/Stop); the shipped configuration
        defines no music class, so the shipped flow has none (r_ recordings)."""
        return run.flow != "shipped"

    def request_withdraw(self, entry: Entry, info: str) -> None:
        """QueueWithdrawCaller: app_queue acts on it at its next look, once a second from
        the caller's join."""
        entry.withdraw_info = info
        run = entry.call
        waited = self.now() - entry.joined
        at = entry.joined + math.floor(waited) + 1.0

        async def look() -> None:
            await self.sleep(at - self.now())
            if entry.withdraw is not None and not entry.withdraw.done():
                entry.withdraw.set_result(None)

        run.tasks.append(asyncio.create_task(look(), name=f"sim-withdraw-{run.leg.name}"))

    def _leave_queue(self, run: CallRun) -> tuple[int, int]:
        queue, entry = run.queue, run.entry
        assert queue is not None and entry is not None
        position = queue.position(entry)
        queue.entries.remove(entry)
        if entry.offer is not None and not entry.offer.done():
            entry.offer.cancel()
        run.entry = None
        self.dispatch(queue)
        return position, len(queue.entries)

    def _queue_exit(self, run: CallRun, status: str) -> str:
        """The caller leaves the queue alive: a timeout or a withdraw. app_queue counts
        both as abandoned (QueueCallerAbandon), then the dialplan goes on (r_overflow_60s,
        r_withdraw_to_supervisors)."""
        leg = run.leg
        self._cancel_ringing(run)
        info = run.entry.withdraw_info if run.entry is not None and status == "WITHDRAW" else None
        self._abandon(run, withdraw_info=info, reason=status)
        self.varset(leg, "QUEUESTATUS", status)
        run.phase = PHASE_DIALPLAN
        return status

    async def _ring(self, run: CallRun, queue: Queue, entry: Entry, member: Member, deadline: float | None) -> bool:
        """Ring ``member`` for the caller: True once the call it answered has ended, False
        when it did not answer (rang out, declined, or the caller was withdrawn)."""
        leg = run.leg
        endpoint = member.endpoint
        num, nm = self._operator_cid(endpoint)
        op = self._new_channel(
            self._pjsip_name(endpoint),
            state=0,
            cid_num=num,
            cid_name=nm,
            context=names.OPERATOR_CONTEXT,
            exten="s",
            linkedid=leg.linkedid,
            endpoint=endpoint,
        )
        op.call = run
        run.ringing = (member, op)
        entry.offer = None
        self.emit("Newchannel", "call", op.block())
        self.varset(op, f"__{names.VAR_CALL_MARK}", "1")
        self.varset(op, "DIALEDPEERNUMBER", endpoint)
        # AgentCalled already shows the member leg as it will be once ringing
        view = dataclasses.replace(op, exten=leg.exten, cl_num=leg.cid_num, cl_name=leg.cid_name)
        self.emit(
            "AgentCalled",
            "agent",
            leg.block(),
            view.block("Dest"),
            [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name)],
        )
        self.emit("DialBegin", "call", leg.block(), op.block("Dest"), [("DialString", member.interface)])
        if queue.strategy != "ringall":  # one member rung: the caller sees it at once
            leg.cl_num, leg.cl_name = op.cid_num, op.cid_name
            self.emit("NewConnectedLine", "call", leg.block())
        op.exten, op.cl_num, op.cl_name = leg.exten, leg.cid_num, leg.cid_name
        self.newstate(op, 5)
        self.newexten(op, 1, "AppQueue", "(Outgoing Line)")
        self.emit("NewConnectedLine", "call", op.block())
        self.device_state(member.state_interface, "RINGING")
        self.emit("DialState", "call", leg.block(), op.block("Dest"), [("DialStatus", "RINGING")])
        self.member_status(member)
        phone = self.softphones.setdefault(endpoint, Softphone())
        ring_started = self.now()
        # queues.conf timeoutpriority=app: the Queue() timeout cuts the member's ring short
        timeout = self.config.member_timeout
        if deadline is not None:
            timeout = max(min(timeout, deadline - ring_started), 0.0)
        answers = phone.answers and phone.ring_seconds < timeout
        cut = run.ring_cut = asyncio.get_running_loop().create_future()
        assert entry.withdraw is not None
        await self._until(ring_started + (phone.ring_seconds if answers else timeout), cut, entry.withdraw)
        run.ring_cut = None
        if entry.withdraw.done() and not cut.done():
            self._cancel_ringing(run)
            return False
        cause = cut.result() if cut.done() else None
        if cause is None and answers:
            self._answer(run, queue, entry, member, op, ring_started)
            await self._bridged(run, phone)
            return True
        if cause is not None:
            # the operator leg was hung up while ringing (AMI Hangup): a declined ring
            elapsed = int((self.now() - ring_started) * 1000)
            self.emit(
                "AgentRingNoAnswer",
                "agent",
                leg.block(),
                op.block("Dest"),
                [
                    ("Queue", queue.name),
                    ("Interface", member.interface),
                    ("MemberName", member.name),
                    ("RingTime", str(elapsed)),
                ],
            )
            self.emit("SoftHangupRequest", "call", op.block(), [("Cause", str(cause))])
            self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
            run.ringing = None
            self.hangup_channel(op, cause)
            self.member_status(member)
            self.dispatch(queue)
            return False
        self.emit(
            "AgentRingNoAnswer",
            "agent",
            leg.block(),
            op.block("Dest"),
            [
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("RingTime", str(int((self.now() - ring_started) * 1000))),
            ],
        )
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "CANCEL")])
        run.ringing = None
        self.hangup_channel(op, 0)
        self.member_status(member)
        self.dispatch(queue)  # the member is free for the callers behind (autofill)
        return False

    def _answer(
        self, run: CallRun, queue: Queue, entry: Entry, member: Member, op: Channel, ring_started: float
    ) -> None:
        leg = run.leg
        self.newstate(op, 6)
        self.device_state(member.state_interface, "INUSE")
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "ANSWER")])
        if queue.strategy == "ringall":  # the caller learns who answered only now
            leg.cl_num, leg.cl_name = op.cid_num, op.cid_name
            self.emit("NewConnectedLine", "call", leg.block())
        if self._hold_music(run):
            self.emit("MusicOnHoldStop", "call", leg.block())
        hold = int(self.now() - entry.joined)
        member_vars = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", str(member.last_call)),
            ("MEMBERPENALTY", str(member.penalty)),
            ("MEMBERDYNAMIC", "1" if member.dynamic else "0"),
            ("MEMBERREALTIME", "0"),
        ]
        for chan in (leg, op):
            for var, value in member_vars:
                self.varset(chan, var, value)
        for chan in (leg, op):
            self.varset(chan, "QEHOLDTIME", str(hold))
            self.varset(chan, "QEORIGINALPOS", str(entry.original_position))
        for chan in (leg, op):
            for var, value in queue.channel_vars():
                self.varset(chan, var, value)
        position, count = self._leave_queue(run)
        queue.holdtime = int((queue.holdtime * 3 + hold) / 4)
        self.emit(
            "QueueCallerLeave",
            "agent",
            leg.block(),
            [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))],
        )
        self.varset(leg, "QUEUEPOSITION", str(position))
        if run.flow == "legacy":
            self.varset(leg, "QUEUEWAIT", str(hold))
            self.varset(leg, "QUEUEWAIT_MS", str(int((self.now() - entry.joined) * 1000)))
        ring = int(self.now() - ring_started)
        self.emit(
            "AgentConnect",
            "agent",
            leg.block(),
            op.block("Dest"),
            [
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(hold)),
                ("RingTime", str(ring)),
            ],
        )
        bridge = Bridge(str(uuid.UUID(int=self._seq * 7919 + 1 + int(self.epoch))))
        self.emit("BridgeCreate", "call", bridge.block())
        for chan in (op, leg):
            bridge.channels.append(chan)
            chan.bridge = bridge
            self.emit("BridgeEnter", "call", bridge.block(), chan.block())
        run.ringing = None
        run.operator, run.member, run.connected_at = op, member, self.now()
        run.phase = PHASE_BRIDGED
        run.placed.answered_by = member.interface
        self.member_status(member)

    async def _bridged(self, run: CallRun, phone: Softphone) -> None:
        if phone.talk_seconds is None:
            await asyncio.Event().wait()  # talks until someone hangs up
            return
        await self.sleep(phone.talk_seconds)
        self._agent_hangup(run)

    def _complete(self, run: CallRun, reason: str) -> None:
        queue, member, op, leg = run.queue, run.member, run.operator, run.leg
        assert queue is not None and member is not None and op is not None
        talk = int(self.now() - run.connected_at)
        hold = int(run.connected_at - (run.answered_at if run.entry is None else run.entry.joined))
        hold = int(leg.variables.get("QEHOLDTIME", hold))
        self.emit(
            "AgentComplete",
            "agent",
            leg.block(),
            op.block("Dest"),
            [
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(hold)),
                ("TalkTime", str(talk)),
                ("Reason", reason),
            ],
        )
        queue.completed += 1
        queue.talktime = int((queue.talktime * 3 + talk) / 4)
        member.calls_taken += 1
        member.last_call = int(self.wall())

    def _bridge_leave(self, chan: Channel) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.channels.remove(chan)
        chan.bridge = None
        self.emit("BridgeLeave", "call", bridge.block(), chan.block())
        if not bridge.channels:
            self.emit("BridgeDestroy", "call", bridge.block())

    def _answered_vars(self, run: CallRun) -> None:
        leg = run.leg
        talk = self.now() - run.connected_at
        dialed = self.now() - leg.created
        self.varset(leg, "ANSWEREDTIME", str(int(talk)))
        self.varset(leg, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        self.varset(leg, "DIALEDTIME", str(int(dialed)))
        self.varset(leg, "DIALEDTIME_MS", str(int(dialed * 1000)))

    def _agent_hangup(self, run: CallRun) -> None:
        """The operator hangs up a bridged call (a_, j_: Reason agent)."""
        op, leg, member = run.operator, run.leg, run.member
        assert op is not None and member is not None
        self._cancel_timer(run)
        self.emit("HangupRequest", "call", op.block())
        self._complete(run, "agent")
        self._bridge_leave(op)
        self._bridge_leave(leg)
        self._answered_vars(run)
        self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
        if run.local1 is not None:
            self.emit("HangupRequest", "call", run.local1.block(), [("Cause", "16")])
            self.hangup_channel(leg, 16)
            self.hangup_channel(op, 16)
            self.member_status(member)
            # the half has taken the operator's identity (connected line) by now;
            # Asterisk reports that even after the half's Hangup (a_local_)
            one = run.local1
            one.cid_num, one.cid_name = op.cid_num, op.cid_name
            self.hangup_channel(one, 16)
            self.emit(
                "NewCallerid", "call", one.block(), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
            )
        else:
            self.hangup_channel(op, 16)
            self.member_status(member)
            self.hangup_channel(leg, 16)
        self._end_run(run, "answered")
        self.dispatch_all()

    def _arm_caller_timer(self, run: CallRun) -> None:
        after = run.script.hangup_after
        if after is None or run.script.local_exten is not None:
            return

        async def timer() -> None:
            await self.sleep(run.answered_at + after - self.now())
            run.timer = None
            self.caller_hangup(run)

        run.timer = asyncio.create_task(timer(), name=f"sim-hangup-{run.leg.name}")

    def _cancel_timer(self, run: CallRun) -> None:
        current = asyncio.current_task()
        if run.timer is not None and run.timer is not current:
            run.timer.cancel()
        run.timer = None

    def _stop(self, run: CallRun) -> None:
        """Stop the call's own flow; the caller of this emits what happens next."""
        current = asyncio.current_task()
        for task in (run.task, run.timer, *run.tasks):
            if task is not None and task is not current and not task.done():
                task.cancel()
        run.timer = None
        if run.ringing is None and run.entry is not None and run.entry.offer is not None:
            offer = run.entry.offer
            if offer.done() and not offer.cancelled():
                run.entry.offer = None  # an offered, not yet rung member is simply free again

    def _caller_leg_gone(self, run: CallRun, cause: int = 16) -> int:
        """The caller side goes away; returns the Cause for the 112 leg's Hangup."""
        leg, one = run.leg, run.local1
        if one is None:
            self.emit("HangupRequest", "call", leg.block())
            return 0 if run.phase != PHASE_BRIDGED else cause
        if run.script.local_exten is not None:
            self.newexten(one, one.priority + 1, "Hangup", "")
            self.emit("SoftHangupRequest", "call", one.block(), [("Cause", str(cause))])
            self.emit("HangupRequest", "call", leg.block(), [("Cause", str(cause))])
            self.hangup_channel(one, cause)
            return cause
        self.emit("HangupRequest", "call", leg.block(), [("Cause", "0")])
        self.hangup_channel(one, 0)
        return 0

    def _cancel_ringing(self, run: CallRun) -> None:
        if run.ringing is None:
            return
        member, op = run.ringing
        run.ringing = None
        self.emit("DialEnd", "call", run.leg.block(), op.block("Dest"), [("DialStatus", "CANCEL")])
        self.hangup_channel(op, 0)
        self.member_status(member)

    def _abandon(self, run: CallRun, withdraw_info: str | None = None, reason: str = "hangup") -> None:
        """app_queue's record_abandoned and leave_queue: the caller hung up (``reason``
        "hangup"), timed out ("TIMEOUT") or was withdrawn ("WITHDRAW")."""
        queue, entry, leg = run.queue, run.entry, run.leg
        assert queue is not None and entry is not None
        moh = self._hold_music(run)

        def durations() -> None:
            waited = self.now() - entry.joined
            self.varset(leg, "QUEUEWAIT", str(int(waited)))
            self.varset(leg, "QUEUEWAIT_MS", str(int(waited * 1000)))
            dialed = self.now() - leg.created
            self.varset(leg, "DIALEDTIME", str(int(dialed)))
            self.varset(leg, "DIALEDTIME_MS", str(int(dialed * 1000)))
            self.varset(leg, "ANSWEREDTIME", "0")
            self.varset(leg, "ANSWEREDTIME_MS", "0")

        def queue_vars() -> None:  # queues.conf setqueuevar=yes
            for var, value in queue.channel_vars():
                self.varset(leg, var, value)

        queue.abandoned += 1
        if reason == "TIMEOUT":
            self.varset(leg, "ABANDONED", "TRUE")
            queue_vars()
        else:
            if moh and reason == "hangup":
                self.emit("MusicOnHoldStop", "call", leg.block())
            durations()
            self.varset(leg, "ABANDONED", "TRUE")
            queue_vars()
        position = queue.position(entry)
        self.emit(
            "QueueCallerAbandon",
            "agent",
            leg.block(),
            [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(int(self.now() - entry.joined))),
            ],
        )
        if withdraw_info is not None:
            self.varset(leg, "QUEUE_WITHDRAW_INFO", withdraw_info)
        if moh and reason != "hangup":
            self.emit("MusicOnHoldStop", "call", leg.block())
        if reason == "TIMEOUT":
            durations()
        queue_vars()
        position, count = self._leave_queue(run)
        self.emit(
            "QueueCallerLeave",
            "agent",
            leg.block(),
            [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))],
        )
        self.varset(leg, "QUEUEPOSITION", str(position))

    def caller_hangup(self, run: CallRun, cause: int = 16) -> None:
        """The caller hangs up (BYE, or the Local half's application ends)."""
        if run.phase == PHASE_DONE:
            return
        self._stop(run)
        leg = run.leg
        phase = run.phase
        if phase == PHASE_BRIDGED:
            op, member = run.operator, run.member
            assert op is not None and member is not None
            final_cause = self._caller_leg_gone(run, cause)
            self._complete(run, "caller")
            self._bridge_leave(leg)
            self._answered_vars(run)
            self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            self.hangup_channel(leg, final_cause or 16)
            self._bridge_leave(op)
            self.hangup_channel(op, 16)
            self.member_status(member)
            self._end_run(run, "answered")
            self.dispatch_all()
            return
        final_cause = self._caller_leg_gone(run, cause)
        if phase == PHASE_QUEUE:
            self._cancel_ringing(run)
            self._abandon(run)
            outcome = "abandoned"
        elif phase == PHASE_PROMPT:
            self.varset(leg, names.VAR_SILENT_DIGIT, "")
            self.varset(leg, "READSTATUS", "HANGUP")
            outcome = "prompt"
        else:
            outcome = "hangup"
        self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
        self.hangup_channel(leg, final_cause)
        self._end_run(run, outcome)
