"""The simulated Asterisk's core: clock, ids, event emission, channels, devices, members.

Everything in the simulator is synchronous between ``await`` points, so each
event burst is atomic; every delay is a sleep on the injected
:class:`~ngcc112.clock.Clock` (the host's clock for ``ngcc112 sim`` and the
demo, a :class:`~ngcc112.clock.VirtualClock` in the tests and the
evaluation). Calls run whether or not any AMI client is logged in (fail
safe): the event sink simply has nobody to deliver to.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import structlog

from ngcc112.clock import Clock, wait_for
from ngcc112.sim.config import SimulatorConfig, configured_queues
from ngcc112.sim.model import (
    DEV_INUSE,
    DEV_NOT_INUSE,
    DEV_RINGING,
    DEV_UNAVAILABLE,
    DEVICE_STATE_NAMES,
    Channel,
    Member,
    Queue,
    Softphone,
)
from ngcc112.sim.run import PHASE_DONE, CallRun
from ngcc112.sim.wire import Pairs, c_escape

log = structlog.get_logger(__name__)
T = TypeVar("T")

#: Event sink: (event class, message pairs).
Sink = Callable[[str, Pairs], None]


class EngineCore:
    """State and primitives the call flow and the AMI interventions build on."""

    def __init__(self, config: SimulatorConfig, sink: Sink, clock: Clock) -> None:
        self.config = config
        self.clock = clock
        self._sink = sink
        self._t0 = clock.monotonic()
        self.epoch = clock.now()
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

    def start_clock(self) -> None:
        self._t0 = self.clock.monotonic()
        self.epoch = self.clock.now()

    def now(self) -> float:
        """Seconds since the simulator started, on its clock."""
        return self.clock.monotonic() - self._t0

    def wall(self) -> float:
        """Asterisk's wall-clock time (epoch seconds): what ``Timestamp`` and Uniqueids show."""
        return self.clock.now()

    async def sleep(self, seconds: float) -> None:
        await self.clock.sleep(seconds)

    async def wait(self, future: asyncio.Future[T], seconds: float) -> T:
        """``future``'s result, or TimeoutError after ``seconds``; the future itself is kept."""
        return await wait_for(self.clock, asyncio.shield(future), seconds)

    def reset_state(self) -> None:
        """A fresh Asterisk: no channels; queues with only their queues.conf static members
        (dynamic members are lost)."""
        self.channels.clear()
        self.globals.clear()
        self.queues = configured_queues(self.config, login_time=int(self.wall()))
        for endpoint in self.registered:
            self.softphones.setdefault(endpoint, Softphone())

    @property
    def seq(self) -> int:
        """How many Uniqueids were handed out (bridge ids and SIP session ids derive from it)."""
        return self._seq

    def next_entry_seq(self) -> int:
        """The next queue entry's number (app_queue counts every caller that ever joined)."""
        self._entry_seq += 1
        return self._entry_seq

    def next_local_seq(self) -> int:
        """The next Local channel's number (the hex suffix of ``Local/…-0000000N``)."""
        seq = self._local_seq
        self._local_seq += 1
        return seq

    def add_call(self, run: CallRun) -> None:
        """A call starts: it is tracked until :meth:`end_run`, and the engine is no longer idle."""
        self.calls.add(run)
        self._idle.clear()

    def tap(self, listener: Sink) -> None:
        """Every event also goes to ``listener``, after the clients (as Asterisk's CEL engine hears
        every channel whether or not any AMI client is logged in)."""
        sink = self._sink

        def both(cls: str, pairs: Pairs) -> None:
            sink(cls, pairs)
            listener(cls, pairs)

        self._sink = both

    def _uniqueid(self) -> str:
        uid = f"{int(self.wall())}.{self._seq}"
        self._seq += 1
        return uid

    def emit(self, event: str, cls: str, *parts: Pairs) -> None:
        pairs: Pairs = [("Event", event), ("Privilege", f"{cls},all")]
        for part in parts:
            pairs.extend(part)
        self._sink(cls, pairs)

    def agent_event(self, event: str, leg: Channel, dest: Channel, member: Member, *fields: tuple[str, str]) -> None:
        """One of app_queue's Agent* events: the caller's leg, the member's as Dest, queue and member."""
        self.emit(
            event,
            "agent",
            leg.block(),
            dest.block("Dest"),
            [("Queue", member.queue), ("Interface", member.interface), ("MemberName", member.name), *fields],
        )

    def queue_caller_leave(self, leg: Channel, queue: Queue, position: int, count: int) -> None:
        """QueueCallerLeave: ``leg`` left ``queue`` from ``position``, ``count`` callers remain."""
        self.emit(
            "QueueCallerLeave",
            "agent",
            leg.block(),
            [("Queue", queue.name), ("Position", str(position)), ("Count", str(count))],
        )

    def emit_raw(self, cls: str, pairs: Pairs) -> None:
        self._sink(cls, pairs)

    def new_channel(
        self,
        name: str,
        *,
        state: int,
        cid_num: str,
        cid_name: str,
        context: str,
        exten: str,
        linkedid: str | None = None,
        endpoint: str = "",
    ) -> Channel:
        uid = self._uniqueid()
        chan = Channel(
            name=name,
            uniqueid=uid,
            linkedid=linkedid or uid,
            state=state,
            cid_num=cid_num,
            cid_name=cid_name,
            context=context,
            exten=exten,
            created=self.now(),
            endpoint=endpoint,
        )
        self.channels[name] = chan
        return chan

    def pjsip_name(self, endpoint: str) -> str:
        name = f"PJSIP/{endpoint}-{self._chan_seq:08x}"
        self._chan_seq += 1
        return name

    def find_channel(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def newexten(
        self, chan: Channel, priority: int, app: str, data: str, *, context: str | None = None, exten: str | None = None
    ) -> None:
        if context is not None:
            chan.context = context
        if exten is not None:
            chan.exten = exten
        chan.priority = priority
        chan.application, chan.appdata = app, data
        self.emit(
            "Newexten", "dialplan", chan.block(), [("Extension", chan.exten), ("Application", app), ("AppData", data)]
        )

    def varset(self, chan: Channel | None, variable: str, value: str) -> None:
        if chan is None:
            self.globals[variable] = value
            self.emit(
                "VarSet",
                "dialplan",
                [("Channel", "none"), ("Uniqueid", "none"), ("Variable", variable), ("Value", c_escape(value))],
            )
            return
        chan.variables[variable.lstrip("_")] = value
        self.emit("VarSet", "dialplan", chan.block(), [("Variable", variable), ("Value", c_escape(value))])

    def newstate(self, chan: Channel, state: int) -> None:
        chan.state = state
        self.emit("Newstate", "call", chan.block())

    def device_state(self, device: str, state: str) -> None:
        self.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])

    def hangup_channel(self, chan: Channel, cause: int) -> None:
        text = {0: "Unknown", 16: "Normal Clearing", 17: "User busy", 19: "No user responding"}.get(cause, "Unknown")
        self.emit("Hangup", "call", chan.block(), [("Cause", str(cause)), ("Cause-txt", text)])
        self.channels.pop(chan.name, None)
        if chan.name.startswith("Local/"):
            if not any(c.name.startswith("Local/") for c in self.channels.values()):
                self.device_state(chan.name.split("-")[0], "NOT_INUSE")
        elif chan.endpoint:
            self.device_state(f"PJSIP/{chan.endpoint}", self.device_name(chan.endpoint))

    def endpoint_busy(self, endpoint: str) -> bool:
        return any(c.endpoint == endpoint for c in self.channels.values())

    def device_status(self, endpoint: str) -> int:
        if not self.registered.get(endpoint, False):
            return DEV_UNAVAILABLE
        for chan in self.channels.values():
            if chan.endpoint == endpoint:
                return DEV_RINGING if chan.state == 5 else DEV_INUSE
        return DEV_NOT_INUSE

    def device_name(self, endpoint: str) -> str:
        return DEVICE_STATE_NAMES[self.device_status(endpoint)]

    def member_status(self, member: Member) -> None:
        """QueueMemberStatus for ``member``'s device, in every queue it is a member of
        (a phone that is a static supervisor and a dynamic operator is reported twice)."""
        status = self.device_status(member.endpoint)
        in_call = any(c.endpoint == member.endpoint and c.state == 6 for c in self.channels.values())
        for queue in self._queues_in_container_order():
            for other in queue.members.values():
                if other.state_interface == member.state_interface:
                    self.emit("QueueMemberStatus", "agent", other.block(status, in_call))

    def _queues_in_container_order(self) -> list[Queue]:
        """The order app_queue's container yields the queues in; for the shipped names,
        as recorded: the supervisors' queue before the operators'."""
        return sorted(self.queues.values(), key=lambda q: q.name, reverse=True)

    def member_event(self, event: str, member: Member) -> None:
        status = self.device_status(member.endpoint)
        self.emit(event, "agent", member.block(status, False))

    def queue_add(
        self,
        queue: Queue,
        interface: str,
        name: str,
        state_interface: str,
        penalty: int,
        paused: bool,
        reason: str = "",
    ) -> Member:
        member = Member(
            queue=queue.name,
            interface=interface,
            name=name or interface,
            state_interface=state_interface or interface,
            penalty=penalty,
            paused=paused,
            reason=reason if paused else "",
            login_time=int(self.wall()),
        )
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
        self.device_state(f"Queue:{member.queue}_pause_{member.interface}", "INUSE" if paused else "NOT_INUSE")
        self.member_event("QueueMemberPause", member)
        if not paused:
            self.dispatch(self.queues[member.queue])

    def _member_free(self, member: Member, reserved: set[str]) -> bool:
        return (
            not member.paused
            and self.registered.get(member.endpoint, False)
            and not self.endpoint_busy(member.endpoint)
            and member.endpoint not in reserved
        )

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

    def operator_cid(self, endpoint: str) -> tuple[str, str]:
        digits = "".join(ch for ch in endpoint if ch.isdigit()) or "0"
        return f"20{digits}", f"Operator {digits}"

    def end_run(self, run: CallRun, outcome: str) -> None:
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
