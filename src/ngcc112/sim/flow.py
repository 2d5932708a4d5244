"""The call flow: a caller through the dialplan, the queue, an operator, and back out.

Three dialplans are here: the shipped one (``asterisk-config/extensions.conf``, the
r_ recordings: category, Answer, TALK_DETECT, CID presentation, ngcc-geo, the
silent-call prompt, then the queue loop operators → supervisors → operators …),
the "final" one the f_..m_ recordings used (beep prompt, one overflow) and the
first, "legacy" one of the a_..e_ recordings (Answer, Queue). The queue and the
operator are in :mod:`ngcc112.sim.queueing`, the ways a call ends in
:mod:`ngcc112.sim.ending`, placing a call in :mod:`ngcc112.sim.placing`; what AMI
clients do to a call is in :mod:`ngcc112.sim.interventions`.
"""

from __future__ import annotations

import asyncio

import structlog

from ngcc112 import names
from ngcc112.sim.calls import CallScript, TalkBurst
from ngcc112.sim.core import EngineCore
from ngcc112.sim.ending import CallEnding
from ngcc112.sim.queueing import QueueFlow
from ngcc112.sim.run import PHASE_DIALPLAN, PHASE_DONE, PHASE_PROMPT, CallRun, caller_id, cid_all
from ngcc112.sim.wire import Pairs

log = structlog.get_logger(__name__)


class CallFlow:
    """A caller through the dialplan: answer, prompt, geolocation, talk, DTMF, the queue loop."""

    def __init__(self, core: EngineCore, ending: CallEnding, queueing: QueueFlow) -> None:
        self.core = core
        self.ending = ending
        self.queueing = queueing

    def originate_response(self, run: CallRun) -> None:
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
        self.core.emit("OriginateResponse", "call", pairs)

    @staticmethod
    def _local_data(script: CallScript) -> str:
        if script.hangup_after is None:
            return "3600"
        return f"{script.hangup_after:g}"

    async def run_dialplan(self, run: CallRun) -> None:
        if run.flow == "shipped":
            await self._shipped_flow(run)
        else:
            await self._older_flow(run)

    def _answer_leg(self, run: CallRun) -> None:
        """``Answer()``: the 112 leg goes Up (a Local caller's half too)."""
        leg, script = run.leg, run.script
        self.core.newstate(leg, 6)
        run.answered_at = self.core.now()
        if run.local1 is not None:
            one = run.local1
            self.core.newstate(one, 6)
            self.core.emit("DialEnd", "call", one.block("Dest"), [("DialStatus", "ANSWER")])
            if script.local_exten is None:
                one.application, one.appdata = script.local_application, self._local_data(script)
                self.originate_response(run)
            else:
                run.tasks.append(asyncio.create_task(self._local_half(run)))
        else:
            self.core.device_state(f"PJSIP/{script.endpoint}", "INUSE")
        self.ending.arm_caller_timer(run)

    def _set(self, run: CallRun, priority: int, variable: str, value: str) -> None:
        """``Set(variable=value)`` at ``priority``: Newexten, then VarSet."""
        self.core.newexten(run.leg, priority, "Set", f"{variable}={value}")
        self.core.varset(run.leg, variable, value)

    async def _shipped_flow(self, run: CallRun) -> None:
        """asterisk-config/extensions.conf ``[from-pstn]``, step by step (r_ recordings)."""
        leg, script = run.leg, run.script
        number, name, pres = caller_id(script)
        self.core.newexten(leg, 1, "NoOp", f"NGCC 112 call from {cid_all(number, name)} on {leg.name} to {leg.exten}")
        self._set(run, 2, names.VAR_CATEGORY, names.EMERGENCY_NUMBERS[script.exten])
        self.core.newexten(leg, 3, "Answer", "")
        self._answer_leg(run)
        # Answer() waits for the answered channel's media before the next step
        await self.core.sleep(self.core.config.answer_seconds)
        self.core.newexten(leg, 4, "Set", "TALK_DETECT(set)=")
        for burst in script.talk:
            run.tasks.append(asyncio.create_task(self._talk(run, burst)))
        self._set(run, 5, f"__{names.VAR_CALL_MARK}", "1")
        self._set(run, 6, names.VAR_ANSWERED_AT, str(int(self.core.wall())))
        self._set(run, 7, names.VAR_CID_PRES, pres)
        is_sip = script.kind == "PJSIP"
        self.core.newexten(leg, 8, "GosubIf", f"{1 if is_sip else 0}?ngcc-geo,s,1()")
        if is_sip:
            self._geo(run, 8)
        prompt = f"{self.core.config.astdatadir}/sounds/id/ngcc112-silent-prompt"
        self._set(run, 9, "NGCC_PROMPT", prompt)
        installed = self.core.config.prompt_sound
        self.core.newexten(leg, 10, "ExecIf", f"{0 if installed else 1}?Set(NGCC_PROMPT=beep)")
        if not installed:
            prompt = "beep"
            self.core.varset(leg, "NGCC_PROMPT", prompt)
        run.phase = PHASE_PROMPT
        digit = await self._prompt(run, 11, prompt, self.core.config.prompt_seconds if installed else 0.5)
        self._set(run, 12, names.VAR_SILENT_READSTATUS, "OK" if digit else "TIMEOUT")
        run.phase = PHASE_DIALPLAN
        if script.dtmf is not None and not leg.variables.get(names.VAR_SILENT_DIGIT):
            run.tasks.append(asyncio.create_task(self._dtmf(run)))
        queued = "app_queue.so" in self.core.config.modules_loaded
        timeout = self.core.config.queue_timeout
        while True:  # the queue loop: only the caller hanging up (or an operator) ends it
            self.core.newexten(leg, 13, "GotoIf", f"{0 if queued else 1}?direct")
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
                self.core.newexten(leg, 19, "GotoIf", f"{1 if again else 0}?queue")
                if again:
                    continue
            # no queue to join: ring every phone directly (not simulated: nobody answers)
            self.core.newexten(leg, 20, "Dial", "PJSIP/op1&PJSIP/op2&PJSIP/op3,30")
            await self.core.sleep(30.0)
            self.core.varset(leg, "DIALSTATUS", "NOANSWER")
            self.core.newexten(leg, 21, "MusicOnHold", ",2")
            await self.core.sleep(2.0)
            self.core.newexten(leg, 22, "Wait", "1")
            await self.core.sleep(1.0)
            self.core.newexten(leg, 23, "Goto", "queue")

    async def _queue_app(self, run: CallRun, priority: int, name: str, timeout: float) -> str:
        """``Queue(name,,,,timeout)`` at ``priority``: its QUEUESTATUS (an unknown queue:
        Asterisk's ``UNKNOWN``, and the dialplan goes on)."""
        self.core.newexten(run.leg, priority, "Queue", f"{name},,,,{timeout:g}")
        queue = self.core.queues.get(name)
        if queue is None:
            self.core.varset(run.leg, "QUEUESTATUS", "UNKNOWN")
            return "UNKNOWN"
        return await self.queueing.wait_in_queue(run, queue, timeout)

    async def _older_flow(self, run: CallRun) -> None:
        """The f_..m_ recordings' dialplan ("final") and the a_..e_ one ("legacy")."""
        leg, script = run.leg, run.script
        number, name, pres = caller_id(script)
        self.core.newexten(leg, 1, "NoOp", f"NGCC 112 call from {cid_all(number, name)} on {leg.name}")
        self.core.newexten(leg, 2, "Answer", "")
        self._answer_leg(run)
        final = run.flow == "final"
        prio = 3
        if final:
            self.core.newexten(leg, prio, "Set", "TALK_DETECT(set)=")
            prio += 1
            for burst in script.talk:
                run.tasks.append(asyncio.create_task(self._talk(run, burst)))
        self.core.newexten(leg, prio, "ExecIf", "0?Set(CALLERID(num)=)")
        self.core.newexten(leg, prio + 1, "ExecIf", "0?Set(CALLERID(name)=)")
        prio += 2
        self._set(run, prio, f"__{names.VAR_CALL_MARK}", "1")
        prio += 1
        self._set(run, prio, names.VAR_ANSWERED_AT, str(int(self.core.wall())))
        prio += 1
        category = names.EMERGENCY_NUMBERS[script.exten]
        if category:
            self._set(run, prio, names.VAR_CATEGORY, category)
            prio += 1
        if final:
            self._set(run, prio, names.VAR_CID_PRES, pres)
            prio += 1
            is_sip = script.kind == "PJSIP"
            self.core.newexten(leg, prio, "GosubIf", f"{1 if is_sip else 0}?ngcc-geo,s,1")
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
        self.core.newexten(leg, prio, "Queue", f"{names.OPERATOR_QUEUE},,,,{self.core.config.queue_timeout:g}")
        result = await self.queueing.wait_in_queue(
            run, self.core.queues[names.OPERATOR_QUEUE], self.core.config.queue_timeout
        )
        if result == "WITHDRAW":  # this dialplan hangs up a withdrawn caller (j_)
            self.core.newexten(leg, prio + 1, "NoOp", "Queue result WITHDRAW")
            self.core.newexten(leg, prio + 2, "Hangup", "")
            self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            self.core.hangup_channel(leg, 16)
            if run.local1 is not None:
                self.core.emit("HangupRequest", "call", run.local1.block(), [("Cause", "16")])
                self.core.hangup_channel(run.local1, 16)
            self.core.end_run(run, "withdrawn")
            return
        if result == "TIMEOUT":
            prio += 1
            self.core.newexten(leg, prio, "NoOp", "Queue result TIMEOUT")
            prio += 1
            self.core.newexten(leg, prio, "Queue", f"{names.SUPERVISOR_QUEUE},,,,")
            supervisors = self.core.queues.get(names.SUPERVISOR_QUEUE)
            if supervisors is not None:
                await self.queueing.wait_in_queue(run, supervisors, None)

    def _geo(self, run: CallRun, return_prio: int) -> None:
        leg, loc = run.leg, run.script.location
        self.core.varset(leg, "LOCAL(ARGC)", "0")
        ctx = "ngcc-geo"
        header = loc.header if loc else ""
        self.core.newexten(leg, 1, "Set", f"{names.VAR_GEO_HEADER}={header}", context=ctx, exten="s")
        self.core.varset(leg, names.VAR_GEO_HEADER, header)
        self.core.newexten(leg, 2, "GotoIf", f"{0 if header else 1}?done")
        if loc is not None and header:
            self.core.newexten(leg, 3, "Set", f"NGCC_GEO_ROUTING={loc.routing}")
            self.core.varset(leg, "NGCC_GEO_ROUTING", loc.routing)
            loaded = "res_geolocation.so" in self.core.config.modules_loaded
            self.core.newexten(leg, 4, "GotoIf", f"{0 if loaded else 1}?done")
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
                    self.core.varset(leg, "GEOLOCPROFILESTATUS", "0")
                    var = f"{names.VAR_GEO_PREFIX}{suffix}"
                    self.core.newexten(leg, 5 + i, "Set", f"{var}={value}")
                    self.core.varset(leg, var, value)
        self.core.newexten(leg, 18, "Return", "")
        self.core.varset(leg, "ARGC", "")
        self.core.varset(leg, "GOSUB_RETVAL", "")
        leg.context, leg.exten, leg.priority = names.INCOMING_CONTEXT, run.script.exten, return_prio

    async def _prompt(self, run: CallRun, prio: int, sound: str, playing: float) -> str:
        """``Read(NGCC_SILENT_DIGIT,<sound>,1,,1,3)``: ``sound`` plays for ``playing`` seconds,
        then the digit timer runs; a digit ends it at once. The digit read, or ""."""
        leg, script = run.leg, run.script
        seconds = names.SILENT_PROMPT_SECONDS
        self.core.newexten(leg, prio, "Read", f"{names.VAR_SILENT_DIGIT},{sound},1,,1,{seconds}")
        self.core.varset(leg, "READSTATUS", "ERROR")
        prompt_end = self.core.now() + playing + seconds
        if script.dtmf is not None and run.answered_at + script.dtmf_at < prompt_end:
            await self._dtmf(run)
            self.core.varset(leg, names.VAR_SILENT_DIGIT, script.dtmf)
            self.core.varset(leg, "READSTATUS", "OK")
            return script.dtmf
        await self.core.sleep(prompt_end - self.core.now())
        self.core.varset(leg, names.VAR_SILENT_DIGIT, "")
        self.core.varset(leg, "READSTATUS", "TIMEOUT")
        return ""

    async def _dtmf(self, run: CallRun) -> None:
        """The caller's key press: DTMFBegin, held, DTMFEnd (Direction Received, 112 leg)."""
        leg, script = run.leg, run.script
        assert script.dtmf is not None
        await self.core.sleep(run.answered_at + script.dtmf_at - self.core.now())
        self.core.emit("DTMFBegin", "dtmf", leg.block(), [("Digit", script.dtmf), ("Direction", "Received")])
        held = script.dtmf_ms if script.dtmf_ms is not None else (280 if script.kind == "PJSIP" else 250)
        await self.core.sleep(held / 1000)
        self.core.emit(
            "DTMFEnd",
            "dtmf",
            leg.block(),
            [("Digit", script.dtmf), ("DurationMs", str(held)), ("Direction", "Received")],
        )

    async def _talk(self, run: CallRun, burst: TalkBurst) -> None:
        await self.core.sleep(run.answered_at + burst.at - self.core.now())
        if run.phase == PHASE_DONE:
            return
        self.core.emit("ChannelTalkingStart", "call", run.leg.block())
        if not burst.silence_after:
            return
        await self.core.sleep(burst.seconds + 2.5)
        if run.phase == PHASE_DONE:
            return
        self.core.emit("ChannelTalkingStop", "call", run.leg.block(), [("Duration", str(int(burst.seconds * 1000)))])

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
            self.core.newexten(one, priority, app, data)
            await self.core.sleep(seconds)
            if app == "Playback":
                self.core.varset(one, "PLAYBACKSTATUS", "SUCCESS")
        self.ending.caller_hangup(run)
