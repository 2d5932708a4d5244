"""The simulated telephony: calls through the dialplan, the queue, softphones.

Everything here is synchronous between ``await`` points, so each event burst
is atomic; every delay is simulated seconds divided by the configured speed.
Calls run whether or not any AMI client is logged in (fail safe): the event
sink simply has nobody to deliver to.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

import structlog

from ngcc112 import names
from ngcc112.sim.calls import (
    PRES_ALLOWED,
    PRES_UNAVAILABLE,
    PRES_WITHHELD,
    CallScript,
    PlacedCall,
    TalkBurst,
)
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.model import (
    DEV_INUSE,
    DEV_NOT_INUSE,
    DEV_RINGING,
    DEV_UNAVAILABLE,
    DEVICE_STATE_NAMES,
    UNKNOWN,
    Bridge,
    Channel,
    Entry,
    Member,
    Queue,
    Softphone,
)
from ngcc112.sim.wire import Pairs, c_escape, truncate_name

log = structlog.get_logger(__name__)

#: Event sink: (event class, message pairs).
Sink = Callable[[str, Pairs], None]

PHASE_DIALPLAN = "dialplan"
PHASE_PROMPT = "prompt"
PHASE_QUEUE = "queue"
PHASE_BRIDGED = "bridged"
PHASE_ELSEWHERE = "elsewhere"
PHASE_DONE = "done"


@dataclass(eq=False)
class CallRun:
    """One running call: the caller's 112 leg, its Local half, its queue state."""

    script: CallScript
    placed: PlacedCall
    flow: str
    leg: Channel
    local1: Channel | None = None
    originate_action_id: str = ""
    phase: str = PHASE_DIALPLAN
    answered_at: float = 0.0
    queue: Queue | None = None
    entry: Entry | None = None
    ringing: tuple[Member, Channel] | None = None
    #: Resolved with a Hangup cause when the rung operator leg is hung up.
    ring_cut: asyncio.Future[int] | None = None
    operator: Channel | None = None
    member: Member | None = None
    connected_at: float = 0.0
    task: asyncio.Task[None] | None = None
    timer: asyncio.Task[None] | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class Engine:
    def __init__(self, config: SimulatorConfig, sink: Sink) -> None:
        self.config = config
        self._sink = sink
        self._loop_t0 = 0.0
        self.epoch = time.time()
        self.channels: dict[str, Channel] = {}
        self.queues: dict[str, Queue] = {}
        self.globals: dict[str, str] = {}
        self.softphones: dict[str, Softphone] = {}
        self.registered: dict[str, bool] = dict(config.endpoints)
        self.calls: set[CallRun] = set()
        self._seq = 0
        self._chan_seq = 0
        self._local_seq = 0
        self._entry_seq = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self.reset_state()

    # -- clock ------------------------------------------------------------

    def start_clock(self) -> None:
        self._loop_t0 = asyncio.get_running_loop().time()

    def now(self) -> float:
        """Simulated seconds since the simulator started."""
        return (asyncio.get_running_loop().time() - self._loop_t0) * self.config.speed

    def wall(self) -> float:
        return self.epoch + self.now()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0) / self.config.speed)

    # -- state ------------------------------------------------------------

    def reset_state(self) -> None:
        """A fresh Asterisk: no channels, empty queues (members are lost too)."""
        self.channels.clear()
        self.globals.clear()
        self.queues = {
            name: Queue(name, self.config.queue_timeout if name == names.OPERATOR_QUEUE else None)
            for name in self.config.queues
        }
        for endpoint in self.registered:
            self.softphones.setdefault(endpoint, Softphone())

    def _uniqueid(self) -> str:
        uid = f"{int(self.wall())}.{self._seq}"
        self._seq += 1
        return uid

    def emit(self, event: str, cls: str, *parts: Pairs) -> None:
        pairs: Pairs = [("Event", event), ("Privilege", f"{cls},all")]
        for part in parts:
            pairs.extend(part)
        self._sink(cls, pairs)

    def emit_raw(self, cls: str, pairs: Pairs) -> None:
        self._sink(cls, pairs)

    # -- channels ---------------------------------------------------------

    def _new_channel(self, name: str, *, state: int, cid_num: str, cid_name: str, context: str,
                     exten: str, linkedid: str | None = None, endpoint: str = "") -> Channel:
        uid = self._uniqueid()
        chan = Channel(
            name=name, uniqueid=uid, linkedid=linkedid or uid, state=state, cid_num=cid_num,
            cid_name=cid_name, context=context, exten=exten, created=self.now(), endpoint=endpoint,
        )
        self.channels[name] = chan
        return chan

    def _pjsip_name(self, endpoint: str) -> str:
        name = f"PJSIP/{endpoint}-{self._chan_seq:08x}"
        self._chan_seq += 1
        return name

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def newexten(self, chan: Channel, priority: int, app: str, data: str, *,
                 context: str | None = None, exten: str | None = None) -> None:
        if context is not None:
            chan.context = context
        if exten is not None:
            chan.exten = exten
        chan.priority = priority
        chan.application, chan.appdata = app, data
        self.emit("Newexten", "dialplan", chan.block(),
                  [("Extension", chan.exten), ("Application", app), ("AppData", data)])

    def varset(self, chan: Channel | None, variable: str, value: str) -> None:
        if chan is None:
            self.globals[variable] = value
            self.emit("VarSet", "dialplan", [("Channel", "none"), ("Uniqueid", "none"),
                                              ("Variable", variable), ("Value", c_escape(value))])
            return
        chan.variables[variable.lstrip("_")] = value
        self.emit("VarSet", "dialplan", chan.block(), [("Variable", variable), ("Value", c_escape(value))])

    def newstate(self, chan: Channel, state: int) -> None:
        chan.state = state
        self.emit("Newstate", "call", chan.block())

    def device_state(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])

    def hangup_channel(self, chan: Channel, cause: int) -> None:
        text = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding"}.get(
            cause, "Unknown")
        self.emit("Hangup", "call", chan.block(), [("Cause", str(cause)), ("Cause-txt", text)])
        self.channels.pop(chan.name, None)
        if chan.name.startswith("Local/"):
            if not any(c.name.startswith("Local/") for c in self.channels.values()):
                self.device_state(chan.name.split("-")[0], "NOT_INUSE")
        elif chan.endpoint:
            self.device_state(f"PJSIP/{chan.endpoint}", self._device_name(chan.endpoint))

    # -- devices and members -------------------------------------------------

    def endpoint_busy(self, endpoint: str) -> bool:
        return any(c.endpoint == endpoint for c in self.channels.values())

    def device_status(self, endpoint: str) -> int:
        if not self.registered.get(endpoint, False):
            return DEV_UNAVAILABLE
        for chan in self.channels.values():
            if chan.endpoint == endpoint:
                return DEV_RINGING if chan.state == 5 else DEV_INUSE
        return DEV_NOT_INUSE

    def _device_name(self, endpoint: str) -> str:
        return DEVICE_STATE_NAMES[self.device_status(endpoint)]

    def member_status(self, member: Member) -> None:
        status = self.device_status(member.endpoint)
        in_call = any(c.endpoint == member.endpoint and c.state == 6 for c in self.channels.values())
        self.emit("QueueMemberStatus", "agent", member.block(status, in_call))

    def member_event(self, event: str, member: Member) -> None:
        status = self.device_status(member.endpoint)
        self.emit(event, "agent", member.block(status, False))

    def queue_add(self, queue: Queue, interface: str, name: str, state_interface: str,
                  penalty: int, paused: bool, reason: str = "") -> Member:
        member = Member(queue=queue.name, interface=interface, name=name or interface,
                        state_interface=state_interface or interface, penalty=penalty,
                        paused=paused, reason=reason if paused else "", login_time=int(self.wall()))
        queue.members[interface] = member
        self.device_state(f"Queue:{queue.name}_pause_{interface}", "INUSE" if paused else "NOT_INUSE")
        self.member_event("QueueMemberAdded", member)
        self.device_state(f"Queue:{queue.name}_avail", "NOT_INUSE")
        self.dispatch(queue)
        return member

    def queue_remove(self, queue: Queue, member: Member) -> None:
        del queue.members[member.interface]
        self.member_event("QueueMemberRemoved", member)
        if not queue.members:
            self.device_state(f"Queue:{queue.name}_avail", "INUSE")

    def queue_pause(self, member: Member, paused: bool, reason: str) -> None:
        member.paused = paused
        member.reason = reason if paused else ""
        member.last_pause = int(self.wall()) if paused else member.last_pause
        self.device_state(f"Queue:{member.queue}_pause_{member.interface}",
                          "INUSE" if paused else "NOT_INUSE")
        self.member_event("QueueMemberPause", member)
        if not paused:
            self.dispatch(self.queues[member.queue])

    def set_registered(self, endpoint: str, registered: bool) -> None:
        self.registered[endpoint] = registered
        self.softphones.setdefault(endpoint, Softphone())
        self.device_state(f"PJSIP/{endpoint}", self._device_name(endpoint))
        for queue in self.queues.values():
            for member in queue.members.values():
                if member.endpoint == endpoint:
                    self.member_status(member)
            self.dispatch(queue)

    def _member_free(self, member: Member, reserved: set[str]) -> bool:
        return (not member.paused and self.registered.get(member.endpoint, False)
                and not self.endpoint_busy(member.endpoint) and member.endpoint not in reserved)

    def _reserved(self) -> set[str]:
        reserved: set[str] = set()
        for queue in self.queues.values():
            for entry in queue.entries:
                if entry.offer is not None and entry.offer.done() and not entry.offer.cancelled():
                    reserved.add(entry.offer.result().endpoint)
        for call in self.calls:
            if call.ringing is not None:
                reserved.add(call.ringing[0].endpoint)
        return reserved

    def dispatch(self, queue: Queue) -> None:
        """Offer free members to waiting callers, in queue order (rrmemory, autofill)."""
        reserved = self._reserved()
        order = list(queue.members.values())
        for entry in queue.entries:
            if entry.offer is None or entry.offer.done():
                continue
            start = 0
            if queue.last_rung in queue.members:
                start = [m.interface for m in order].index(queue.last_rung) + 1
            chosen = None
            for i in range(len(order)):
                member = order[(start + i) % len(order)]
                if self._member_free(member, reserved):
                    chosen = member
                    break
            if chosen is None:
                return
            reserved.add(chosen.endpoint)
            queue.last_rung = chosen.interface
            entry.offer.set_result(chosen)

    def dispatch_all(self) -> None:
        for queue in self.queues.values():
            self.dispatch(queue)

    # -- placing calls ------------------------------------------------------

    def place(self, script: CallScript, originate_action_id: str = "") -> PlacedCall:
        placed = PlacedCall(script)
        flow = script.flow or self.config.flow
        number, name, _pres = caller_id(script)
        if script.kind == "PJSIP":
            leg = self._new_channel(self._pjsip_name(script.endpoint), state=4, cid_num=number,
                                    cid_name=name, context=names.INCOMING_CONTEXT, exten=script.exten)
            run = CallRun(script=script, placed=placed, flow=flow, leg=leg)
        else:
            base = f"Local/{script.exten}@{names.INCOMING_CONTEXT}-{self._local_seq:08x}"
            self._local_seq += 1
            one = self._new_channel(f"{base};1", state=0, cid_num=UNKNOWN, cid_name=UNKNOWN,
                                    context=names.INCOMING_CONTEXT, exten=script.exten)
            two = self._new_channel(f"{base};2", state=4, cid_num=UNKNOWN, cid_name=UNKNOWN,
                                    context=names.INCOMING_CONTEXT, exten=script.exten,
                                    linkedid=one.uniqueid)
            run = CallRun(script=script, placed=placed, flow=flow, leg=two, local1=one,
                          originate_action_id=originate_action_id)
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
        self.emit("Newexten", "dialplan", one.block(),
                  [("Extension", one.exten), ("Application", "AppDial2"), ("AppData", "(Outgoing Line)")])
        for var, value in script.variables:
            self.varset(one, var, value)
            self.varset(leg, var, value)
        if (number, name) != (UNKNOWN, UNKNOWN):  # an empty CallerID changes nothing (k_ 1c)
            for chan in (one, leg):
                chan.cid_num, chan.cid_name = number, name
                self.emit("NewCallerid", "call", chan.block(),
                          [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
            for chan in (one, leg):
                chan.cl_num, chan.cl_name = number, name
                self.emit("NewConnectedLine", "call", chan.block())
        self.emit("LocalBridge", "call", one.block("LocalOne"), leg.block("LocalTwo"),
                  [("Context", leg.context), ("Exten", leg.exten), ("LocalOptimization", "No")])
        self.emit("DialBegin", "call", one.block("Dest"), [("DialString", f"{leg.exten}@{leg.context}")])
        if script.local_exten is not None:
            self._originate_response(run)

    def _sip_auth(self, endpoint: str) -> None:
        """The digest challenge and success res_pjsip reports for an INVITE (security class)."""
        stamp = time.gmtime(self.wall())
        millis = int(self.wall() * 1000) % 1000
        tv = time.strftime("%Y-%m-%dT%H:%M:%S", stamp) + f".{millis:03d}+0000"
        common: Pairs = [("EventTV", tv), ("Severity", "Informational"), ("Service", "PJSIP"),
                         ("EventVersion", "1"), ("AccountID", endpoint),
                         ("SessionID", f"{self._seq}-{5081 + self._seq}@127.0.0.1"),
                         ("LocalAddress", "IPV4/UDP/127.0.0.1/5060"),
                         ("RemoteAddress", "IPV4/UDP/127.0.0.1/5081")]
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
        pairs += [("Reason", "4"), ("Uniqueid", one.uniqueid), ("CallerIDNum", number),
                  ("CallerIDName", name)]
        self.emit("OriginateResponse", "call", pairs)

    @staticmethod
    def _local_data(script: CallScript) -> str:
        if script.hangup_after is None:
            return "3600"
        return f"{script.hangup_after:g}"

    # -- the dialplan -------------------------------------------------------

    async def _flow(self, run: CallRun) -> None:
        leg, script = run.leg, run.script
        number, name, pres = caller_id(script)
        self.newexten(leg, 1, "NoOp", f'NGCC 112 call from {cid_all(number, name)} on {leg.name}')
        self.newexten(leg, 2, "Answer", "")
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
        self.newexten(leg, prio, "Set", f"__{names.VAR_CALL_MARK}=1")
        self.varset(leg, f"__{names.VAR_CALL_MARK}", "1")
        prio += 1
        answered = str(int(self.wall()))
        self.newexten(leg, prio, "Set", f"{names.VAR_ANSWERED_AT}={answered}")
        self.varset(leg, names.VAR_ANSWERED_AT, answered)
        prio += 1
        category = names.EMERGENCY_NUMBERS[script.exten]
        if category:
            self.newexten(leg, prio, "Set", f"{names.VAR_CATEGORY}={category}")
            self.varset(leg, names.VAR_CATEGORY, category)
            prio += 1
        if final:
            self.newexten(leg, prio, "Set", f"{names.VAR_CID_PRES}={pres}")
            self.varset(leg, names.VAR_CID_PRES, pres)
            prio += 1
            is_sip = script.kind == "PJSIP"
            self.newexten(leg, prio, "GosubIf", f"{1 if is_sip else 0}?ngcc-geo,s,1")
            if is_sip:
                self._geo(run, prio)
            prio += 1
            run.phase = PHASE_PROMPT
            digit = await self._prompt(run, prio)
            prio += 1
            status = "OK" if digit else "TIMEOUT"
            self.newexten(leg, prio, "Set", f"{names.VAR_SILENT_READSTATUS}={status}")
            self.varset(leg, names.VAR_SILENT_READSTATUS, status)
            prio += 1
        if script.dtmf is not None and not leg.variables.get(names.VAR_SILENT_DIGIT):
            run.tasks.append(asyncio.create_task(self._dtmf(run)))
        self.newexten(leg, prio, "Queue", f"{names.OPERATOR_QUEUE},,,,{self.config.queue_timeout:g}")
        result = await self._queue(run, self.queues[names.OPERATOR_QUEUE])
        if result == "TIMEOUT":
            prio += 1
            self.newexten(leg, prio, "NoOp", "Queue result TIMEOUT")
            prio += 1
            self.newexten(leg, prio, "Queue", f"{names.SUPERVISOR_QUEUE},,,,")
            supervisors = self.queues.get(names.SUPERVISOR_QUEUE)
            if supervisors is not None:
                await self._queue(run, supervisors)

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
                    ("FORMAT", loc.format), ("LOCATION", loc.location),
                    ("EFFECTIVE", loc.effective or loc.location), ("METHOD", loc.method),
                    ("ELEMENT", loc.element), ("ELEMENT_ID", loc.element_id),
                    ("DEVICE_ID", loc.device_id), ("CONFIDENCE", loc.confidence),
                    ("ROUTING_USE", loc.routing_use), ("USAGE", loc.usage),
                    ("REFERENCE", loc.reference), ("SOURCE", loc.source),
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

    async def _prompt(self, run: CallRun, prio: int) -> str:
        leg, script = run.leg, run.script
        seconds = names.SILENT_PROMPT_SECONDS
        self.newexten(leg, prio, "Read", f"{names.VAR_SILENT_DIGIT},beep,1,,1,{seconds}")
        self.varset(leg, "READSTATUS", "ERROR")
        # the beep plays first; the digit timer then runs for ``seconds``
        prompt_end = self.now() + 0.5 + seconds
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
        self.emit("DTMFEnd", "dtmf", leg.block(),
                  [("Digit", script.dtmf), ("DurationMs", str(held)), ("Direction", "Received")])

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
        self.emit("ChannelTalkingStop", "call", run.leg.block(),
                  [("Duration", str(int(burst.seconds * 1000)))])

    def _local_half_steps(self, run: CallRun) -> list[tuple[str, str, float]]:
        """What the caller half (Local;1) runs in ``ngcc-test,<exten>`` (dialplan-used.conf)."""
        exten = run.script.local_exten or "wait"
        wait = dict(run.script.variables).get("NGCC_WAIT", "")
        if exten == "dtmf5":
            tail = float(wait) if wait else 8.0
            return [("Wait", "1", 1.0), ("SendDTMF", "5,,250", 0.25), ("Wait", f"{tail:g}", tail)]
        if exten == "talk":
            tail = float(wait) if wait else 1.0
            return [("Wait", "4", 4.0), ("Playback", "hello-world&silence/4&tt-weasels&silence/4", 12.3),
                    ("Wait", f"{tail:g}", tail)]
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

    # -- the queue ----------------------------------------------------------

    async def _queue(self, run: CallRun, queue: Queue) -> str:
        leg = run.leg
        for var in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self.varset(leg, var, "")
        if run.flow == "legacy":
            for var in ("QUEUEWAIT", "QUEUEWAIT_MS"):
                self.varset(leg, var, "")
        self._entry_seq += 1
        entry = Entry(call=run, joined=self.now(), seq=self._entry_seq,
                      original_position=len(queue.entries) + 1)
        queue.insert(entry)
        queue.joined_total += 1
        run.queue, run.entry, run.phase = queue, entry, PHASE_QUEUE
        self.emit("QueueCallerJoin", "agent", leg.block(),
                  [("Queue", queue.name), ("Position", str(queue.position(entry))),
                   ("Count", str(len(queue.entries)))])
        self.emit("MusicOnHoldStart", "call", leg.block(), [("Class", "default")])
        deadline = None if queue.timeout is None else entry.joined + queue.timeout
        while True:
            entry.offer = asyncio.get_running_loop().create_future()
            self.dispatch(queue)
            try:
                if deadline is None:
                    member = await asyncio.shield(entry.offer)
                else:
                    remaining = (deadline - self.now()) / self.config.speed
                    member = await asyncio.wait_for(asyncio.shield(entry.offer), max(remaining, 0))
            except TimeoutError:
                self._queue_timeout(run, queue, entry)
                return "TIMEOUT"
            if await self._ring(run, queue, entry, member):
                return "ANSWERED"
            await self.sleep(self.config.member_retry)
            if deadline is not None and self.now() >= deadline:
                self._queue_timeout(run, queue, entry)
                return "TIMEOUT"

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

    def _queue_timeout(self, run: CallRun, queue: Queue, entry: Entry) -> None:
        leg = run.leg
        self.emit("MusicOnHoldStop", "call", leg.block())
        position, count = self._leave_queue(run)
        self.emit("QueueCallerLeave", "agent", leg.block(),
                  [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))])
        self.varset(leg, "QUEUESTATUS", "TIMEOUT")
        run.phase = PHASE_DIALPLAN

    def _operator_cid(self, endpoint: str) -> tuple[str, str]:
        digits = "".join(ch for ch in endpoint if ch.isdigit()) or "0"
        return f"20{digits}", f"Operator {digits}"

    async def _ring(self, run: CallRun, queue: Queue, entry: Entry, member: Member) -> bool:
        leg = run.leg
        endpoint = member.endpoint
        num, nm = self._operator_cid(endpoint)
        op = self._new_channel(self._pjsip_name(endpoint), state=0, cid_num=num, cid_name=nm,
                               context=names.OPERATOR_CONTEXT, exten="s", linkedid=leg.linkedid,
                               endpoint=endpoint)
        op.call = run
        run.ringing = (member, op)
        entry.offer = None
        self.emit("Newchannel", "call", op.block())
        self.varset(op, f"__{names.VAR_CALL_MARK}", "1")
        self.varset(op, "DIALEDPEERNUMBER", endpoint)
        # AgentCalled already shows the member leg as it will be once ringing
        view = dataclasses.replace(op, exten=leg.exten, cl_num=leg.cid_num, cl_name=leg.cid_name)
        self.emit("AgentCalled", "agent", leg.block(), view.block("Dest"),
                  [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name)])
        self.emit("DialBegin", "call", leg.block(), op.block("Dest"), [("DialString", member.interface)])
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
        timeout = self.config.member_timeout
        answers = phone.answers and phone.ring_seconds < timeout
        run.ring_cut = asyncio.get_running_loop().create_future()
        try:
            cause = await asyncio.wait_for(asyncio.shield(run.ring_cut),
                                           (phone.ring_seconds if answers else timeout) / self.config.speed)
        except TimeoutError:
            cause = None
        run.ring_cut = None
        if cause is None and answers:
            self._answer(run, queue, entry, member, op, ring_started)
            await self._bridged(run, phone)
            return True
        if cause is not None:
            # the operator leg was hung up while ringing (AMI Hangup): a declined ring
            elapsed = int((self.now() - ring_started) * 1000)
            self.emit("AgentRingNoAnswer", "agent", leg.block(), op.block("Dest"),
                      [("Queue", queue.name), ("Interface", member.interface),
                       ("MemberName", member.name), ("RingTime", str(elapsed))])
            self.emit("SoftHangupRequest", "call", op.block(), [("Cause", str(cause))])
            self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
            run.ringing = None
            self.hangup_channel(op, cause)
            self.member_status(member)
            self.dispatch(queue)
            return False
        self.emit("AgentRingNoAnswer", "agent", leg.block(), op.block("Dest"),
                  [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name),
                   ("RingTime", str(int(timeout * 1000)))])
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "CANCEL")])
        run.ringing = None
        self.hangup_channel(op, 0)
        self.member_status(member)
        self.dispatch(queue)  # the member is free for the callers behind (autofill)
        return False

    def _answer(self, run: CallRun, queue: Queue, entry: Entry, member: Member, op: Channel,
                ring_started: float) -> None:
        leg = run.leg
        self.newstate(op, 6)
        self.device_state(member.state_interface, "INUSE")
        self.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "ANSWER")])
        self.emit("MusicOnHoldStop", "call", leg.block())
        hold = int(self.now() - entry.joined)
        member_vars = [
            ("MEMBERINTERFACE", member.interface), ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)), ("MEMBERLASTCALL", str(member.last_call)),
            ("MEMBERPENALTY", str(member.penalty)), ("MEMBERDYNAMIC", "1"), ("MEMBERREALTIME", "0"),
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
        self.emit("QueueCallerLeave", "agent", leg.block(),
                  [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))])
        self.varset(leg, "QUEUEPOSITION", str(position))
        if run.flow == "legacy":
            self.varset(leg, "QUEUEWAIT", str(hold))
            self.varset(leg, "QUEUEWAIT_MS", str(int((self.now() - entry.joined) * 1000)))
        ring = int(self.now() - ring_started)
        self.emit("AgentConnect", "agent", leg.block(), op.block("Dest"),
                  [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name),
                   ("HoldTime", str(hold)), ("RingTime", str(ring))])
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
            await asyncio.Event().wait()
        await self.sleep(phone.talk_seconds)
        self._agent_hangup(run)

    def _complete(self, run: CallRun, reason: str) -> None:
        queue, member, op, leg = run.queue, run.member, run.operator, run.leg
        assert queue is not None and member is not None and op is not None
        talk = int(self.now() - run.connected_at)
        hold = int(run.connected_at - (run.answered_at if run.entry is None else run.entry.joined))
        hold = int(leg.variables.get("QEHOLDTIME", hold))
        self.emit("AgentComplete", "agent", leg.block(), op.block("Dest"),
                  [("Queue", queue.name), ("Interface", member.interface), ("MemberName", member.name),
                   ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)])
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
        dialed = self.now() - run.answered_at
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
            self.emit("NewCallerid", "call", one.block(),
                      [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")])
        else:
            self.hangup_channel(op, 16)
            self.member_status(member)
            self.hangup_channel(leg, 16)
        self._end_run(run, "answered")
        self.dispatch_all()

    # -- interruptions --------------------------------------------------------

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

    def _abandon(self, run: CallRun, withdraw_info: str | None = None) -> None:
        queue, entry, leg = run.queue, run.entry, run.leg
        assert queue is not None and entry is not None
        dialed = self.now() - run.answered_at
        if withdraw_info is None:
            self.emit("MusicOnHoldStop", "call", leg.block())
        self.varset(leg, "DIALEDTIME", str(int(dialed)))
        self.varset(leg, "DIALEDTIME_MS", str(int(dialed * 1000)))
        self.varset(leg, "ANSWEREDTIME", "0")
        self.varset(leg, "ANSWEREDTIME_MS", "0")
        self.varset(leg, "ABANDONED", "TRUE")
        queue.abandoned += 1
        position = queue.position(entry)
        self.emit("QueueCallerAbandon", "agent", leg.block(),
                  [("Queue", queue.name), ("Position", str(position)),
                   ("OriginalPosition", str(entry.original_position)),
                   ("HoldTime", str(int(self.now() - entry.joined)))])
        if withdraw_info is not None:
            self.varset(leg, "QUEUE_WITHDRAW_INFO", withdraw_info)
            self.emit("MusicOnHoldStop", "call", leg.block())
        position, count = self._leave_queue(run)
        self.emit("QueueCallerLeave", "agent", leg.block(),
                  [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))])

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

    def hangup_action(self, chan: Channel, cause: int) -> None:
        """AMI ``Hangup`` on one of a call's channels."""
        run = chan.call
        if run is None:
            self.emit("SoftHangupRequest", "call", chan.block(), [("Cause", str(cause))])
            self.hangup_channel(chan, cause)
            return
        if run.operator is chan and run.phase == PHASE_BRIDGED:
            self._stop(run)
            self._agent_hangup(run)
            return
        if run.ringing is not None and run.ringing[1] is chan:
            if run.ring_cut is not None and not run.ring_cut.done():
                run.ring_cut.set_result(cause)
            return
        if chan is run.local1 or run.local1 is None:
            self.caller_hangup(run, cause)
            return
        # the 112 leg itself (Local;2): its half follows
        self._stop(run)
        leg = run.leg
        if leg.application == "MusicOnHold":
            self.emit("MusicOnHoldStop", "call", leg.block())
        self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", str(cause))])
        phase = run.phase
        if phase == PHASE_QUEUE:
            self._cancel_ringing(run)
            self._abandon(run)
        elif phase == PHASE_BRIDGED and run.operator is not None and run.member is not None:
            self._complete(run, "caller")
            self._bridge_leave(leg)
            self._bridge_leave(run.operator)
            self.hangup_channel(run.operator, cause)
            self.member_status(run.member)
        one = run.local1
        assert one is not None
        self.emit("HangupRequest", "call", one.block(), [("Cause", str(cause))])
        self.hangup_channel(leg, cause)
        self.hangup_channel(one, cause)
        self._end_run(run, "hangup")
        self.dispatch_all()

    def withdraw(self, run: CallRun, info: str) -> None:
        """QueueWithdrawCaller: abandon-like leave, then the dialplan continues (j_)."""
        if run.phase != PHASE_QUEUE or run.queue is None:
            return
        self._stop(run)
        leg, queue = run.leg, run.queue
        self._cancel_ringing(run)
        self.varset(leg, "QUEUEWAIT", str(int(self.now() - (run.entry.joined if run.entry else 0))))
        for var, value in queue.channel_vars():
            self.varset(leg, var, value)
        self._abandon(run, withdraw_info=info)
        self.varset(leg, "QUEUESTATUS", "WITHDRAW")
        prio = leg.priority
        self.newexten(leg, prio + 1, "NoOp", "Queue result WITHDRAW")
        self.newexten(leg, prio + 2, "Hangup", "")
        self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
        self.hangup_channel(leg, 16)
        if run.local1 is not None:
            self.emit("HangupRequest", "call", run.local1.block(), [("Cause", "16")])
            self.hangup_channel(run.local1, 16)
        self._end_run(run, "withdrawn")

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: the channel leaves whatever it runs (queue: abandon) for ``context``."""
        run = chan.call
        if run is not None and run.phase == PHASE_BRIDGED and chan is run.operator:
            # the operator leg goes elsewhere: for the queue that is the end of the call
            self._stop(run)
            self._agent_hangup(run)
            return
        if run is not None:
            self._stop(run)
            if run.phase == PHASE_BRIDGED and chan is run.leg and run.operator is not None:
                op, member = run.operator, run.member
                assert member is not None
                self._complete(run, "transfer")
                self._bridge_leave(chan)
                self._bridge_leave(op)
                self.emit("SoftHangupRequest", "call", op.block(), [("Cause", "16")])
                self.hangup_channel(op, 16)
                self.member_status(member)
                run.operator = None
                self.dispatch_all()
            if run.phase == PHASE_QUEUE and chan is run.leg:
                self._cancel_ringing(run)
                self.emit("MusicOnHoldStop", "call", chan.block())
                dialed = self.now() - run.answered_at
                self.varset(chan, "DIALEDTIME", str(int(dialed)))
                self.varset(chan, "DIALEDTIME_MS", str(int(dialed * 1000)))
                self.varset(chan, "ANSWEREDTIME", "0")
                self.varset(chan, "ANSWEREDTIME_MS", "0")
                chan.context, chan.exten, chan.priority = context, exten, priority
                self.emit("Newexten", "dialplan", chan.block(),
                          [("Extension", exten), ("Application", chan.application),
                           ("AppData", chan.appdata)])
                self.varset(chan, "ABANDONED", "TRUE")
                assert run.queue is not None and run.entry is not None
                run.queue.abandoned += 1
                entry = run.entry
                position, count = self._leave_queue(run)
                self.emit("QueueCallerAbandon", "agent", chan.block(),
                          [("Queue", run.queue.name), ("Position", str(position)),
                           ("OriginalPosition", str(entry.original_position)),
                           ("HoldTime", str(int(self.now() - entry.joined)))])
                self.emit("QueueCallerLeave", "agent", chan.block(),
                          [("Queue", run.queue.name), ("Position", str(position)),
                           ("Count", str(count))])
            run.phase = PHASE_ELSEWHERE
            if run.script.hangup_after is not None:
                self._arm_caller_timer(run)
        else:
            chan.context, chan.exten, chan.priority = context, exten, priority
        if context == "ngcc-test" and exten == "hold":
            self.newexten(chan, priority + 1, "MusicOnHold", "default,60")
            self.emit("MusicOnHoldStart", "call", chan.block(), [("Class", "default")])
        elif context == "ngcc-test" and exten == "echo":
            self.newexten(chan, priority, "Answer", "")
            self.newexten(chan, priority + 1, "Echo", "")
        else:
            self.newexten(chan, priority, "Wait", "60")

    def restart_hangup_all(self) -> None:
        """``core restart now``: every call is hung up first (h_asterisk_restart)."""
        for run in list(self.calls):
            if run.phase == PHASE_DONE:
                continue
            self._stop(run)
            leg, one = run.leg, run.local1
            if one is not None:
                self.emit("SoftHangupRequest", "call", one.block(), [("Cause", "4")])
            self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "4")])
            if one is not None:
                self.emit("HangupRequest", "call", leg.block(), [("Cause", "0")])
                self.hangup_channel(one, 0)
            if run.phase == PHASE_QUEUE:
                self._cancel_ringing(run)
                self._abandon(run)
                self.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            elif run.phase == PHASE_BRIDGED and run.operator is not None and run.member is not None:
                self._complete(run, "caller")
                self._bridge_leave(leg)
                self._bridge_leave(run.operator)
                self.hangup_channel(run.operator, 0)
            self.hangup_channel(leg, 0)
            self._end_run(run, "restart")
        for chan in list(self.channels.values()):
            self.hangup_channel(chan, 0)

    def _end_run(self, run: CallRun, outcome: str) -> None:
        run.phase = PHASE_DONE
        current = asyncio.current_task()
        for task in (run.task, run.timer, *run.tasks):
            if task is not None and task is not current and not task.done():
                task.cancel()
        for chan in (run.leg, run.local1, run.operator):
            if chan is not None:
                self.channels.pop(chan.name, None)
        if run.ringing is not None:
            self.channels.pop(run.ringing[1].name, None)
        self.calls.discard(run)
        run.placed._finish(outcome)
        log.debug("sim.call_ended", channel=run.leg.name, outcome=outcome)
        if not self.calls:
            self._idle.set()

    async def wait_idle(self) -> None:
        await self._idle.wait()

    async def cancel_all(self) -> None:
        tasks = []
        for run in list(self.calls):
            for task in (run.task, run.timer, *run.tasks):
                if task is not None and not task.done():
                    task.cancel()
                    tasks.append(task)
            run.placed._finish("stopped")
        self.calls.clear()
        self._idle.set()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def caller_id(script: CallScript) -> tuple[str, str, str]:
    """(CallerIDNum, CallerIDName, CALLERID(pres)) as Asterisk shows them."""
    if script.presentation == "anonymous":
        return "anonymous", truncate_name(script.name or "Anonymous"), PRES_WITHHELD
    number = script.number or UNKNOWN
    name = truncate_name(script.name) if script.name else UNKNOWN
    if not script.number and not script.name:
        return UNKNOWN, UNKNOWN, PRES_UNAVAILABLE
    pres = PRES_WITHHELD if script.presentation == "withheld" else PRES_ALLOWED
    return number, name, pres


def cid_all(number: str, name: str) -> str:
    """``${CALLERID(all)}``: ``"Name" <number>``."""
    num = "" if number == UNKNOWN else number
    nm = "" if name == UNKNOWN else name
    return f'"{nm}" <{num}>'
