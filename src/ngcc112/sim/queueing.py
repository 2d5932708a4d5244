"""A call in the queue: waiting, an operator rung, answered, bridged.

The queue side of the call flow (:mod:`ngcc112.sim.flow`): the Queue application's
loop, ringing a member, the answer burst and the bridge, and an AMI client
withdrawing a waiting caller.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import uuid
from typing import Any

import structlog

from ngcc112 import names
from ngcc112.clock import wait_for
from ngcc112.sim.core import EngineCore
from ngcc112.sim.ending import CallEnding
from ngcc112.sim.model import Bridge, Channel, Entry, Member, Queue, Softphone
from ngcc112.sim.run import PHASE_BRIDGED, PHASE_DIALPLAN, PHASE_QUEUE, CallRun

log = structlog.get_logger(__name__)


class QueueFlow:
    """The Queue application: wait, ring an operator, answer, bridge."""

    def __init__(self, core: EngineCore, ending: CallEnding) -> None:
        self.core = core
        self.ending = ending

    async def wait_in_queue(self, run: CallRun, queue: Queue, timeout: float | None) -> str:
        """app_queue's ``Queue()`` for one caller: its QUEUESTATUS once the dialplan goes on
        ("TIMEOUT", "WITHDRAW"); an answered call never returns before it ends."""
        leg = run.leg
        for var in ("ANSWEREDTIME", "ANSWEREDTIME_MS", "DIALEDTIME", "DIALEDTIME_MS"):
            self.core.varset(leg, var, "")
        if run.flow != "final":
            for var in ("QUEUEWAIT", "QUEUEWAIT_MS"):
                self.core.varset(leg, var, "")
        if "ABANDONED" in leg.variables:  # left over from the queue before: cleared
            del leg.variables["ABANDONED"]
            self.core.varset(leg, "ABANDONED", "")
        try:
            priority = int(leg.variables.get("QUEUE_PRIO", "0") or "0")
        except ValueError:
            priority = 0
        loop = asyncio.get_running_loop()
        entry = Entry(
            call=run,
            joined=self.core.now(),
            seq=self.core.next_entry_seq(),
            original_position=0,
            priority=priority,
            withdraw=loop.create_future(),
        )
        queue.insert(entry)
        entry.original_position = queue.position(entry)
        queue.joined_total += 1
        run.queue, run.entry, run.phase = queue, entry, PHASE_QUEUE
        self.core.emit(
            "QueueCallerJoin",
            "agent",
            leg.block(),
            [("Queue", queue.name), ("Position", str(entry.original_position)), ("Count", str(len(queue.entries)))],
        )
        if self.ending.hold_music(run):
            self.core.emit("MusicOnHoldStart", "call", leg.block(), [("Class", "default")])
        deadline = None if timeout is None else entry.joined + timeout
        withdraw = entry.withdraw
        assert withdraw is not None  # set when the caller joined
        while True:
            entry.offer = loop.create_future()
            self.core.dispatch(queue)
            await self._until(deadline, entry.offer, withdraw)
            if withdraw.done():
                return self._queue_exit(run, "WITHDRAW")
            if not entry.offer.done() or entry.offer.cancelled():
                return self._queue_exit(run, "TIMEOUT")
            answered = await self._ring(run, queue, entry, entry.offer.result(), deadline)
            if answered:
                return "ANSWERED"
            if not withdraw.done():  # queues.conf retry, within the Queue() timeout
                retry_end = self.core.now() + self.core.config.member_retry
                await self._until(retry_end if deadline is None else min(retry_end, deadline), withdraw)
            if withdraw.done():
                return self._queue_exit(run, "WITHDRAW")
            if deadline is not None and self.core.now() >= deadline:
                return self._queue_exit(run, "TIMEOUT")

    async def _until(self, deadline: float | None, *futures: asyncio.Future[Any]) -> None:
        """Until one of ``futures`` is done or the clock reaches ``deadline`` (the futures stay)."""
        waiting = asyncio.ensure_future(asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED))
        try:
            if deadline is None:
                await waiting
            else:
                await wait_for(self.core.clock, waiting, max(deadline - self.core.now(), 0.0))
        except TimeoutError:
            pass

    def request_withdraw(self, entry: Entry, info: str) -> None:
        """QueueWithdrawCaller: app_queue acts on it at its next look, once a second from
        the caller's join."""
        entry.withdraw_info = info
        run = entry.call
        waited = self.core.now() - entry.joined
        at = entry.joined + math.floor(waited) + 1.0

        async def look() -> None:
            await self.core.sleep(at - self.core.now())
            if entry.withdraw is not None and not entry.withdraw.done():
                entry.withdraw.set_result(None)

        run.tasks.append(asyncio.create_task(look(), name=f"sim-withdraw-{run.leg.name}"))

    def _queue_exit(self, run: CallRun, status: str) -> str:
        """The caller leaves the queue alive: a timeout or a withdraw. app_queue counts
        both as abandoned (QueueCallerAbandon), then the dialplan goes on (r_overflow_60s,
        r_withdraw_to_supervisors)."""
        leg = run.leg
        self.ending.cancel_ringing(run)
        info = run.entry.withdraw_info if run.entry is not None and status == "WITHDRAW" else None
        self.ending.abandon(run, withdraw_info=info, reason=status)
        self.core.varset(leg, "QUEUESTATUS", status)
        run.phase = PHASE_DIALPLAN
        return status

    async def _ring(self, run: CallRun, queue: Queue, entry: Entry, member: Member, deadline: float | None) -> bool:
        """Ring ``member`` for the caller: True once the call it answered has ended, False
        when it did not answer (rang out, declined, or the caller was withdrawn)."""
        leg = run.leg
        endpoint = member.endpoint
        num, nm = self.core.operator_cid(endpoint)
        op = self.core.new_channel(
            self.core.pjsip_name(endpoint),
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
        self.core.emit("Newchannel", "call", op.block())
        self.core.varset(op, f"__{names.VAR_CALL_MARK}", "1")
        self.core.varset(op, "DIALEDPEERNUMBER", endpoint)
        # AgentCalled already shows the member leg as it will be once ringing
        view = dataclasses.replace(op, exten=leg.exten, cl_num=leg.cid_num, cl_name=leg.cid_name)
        self.core.agent_event("AgentCalled", leg, view, member)
        self.core.emit("DialBegin", "call", leg.block(), op.block("Dest"), [("DialString", member.interface)])
        if queue.strategy != "ringall":  # one member rung: the caller sees it at once
            leg.cl_num, leg.cl_name = op.cid_num, op.cid_name
            self.core.emit("NewConnectedLine", "call", leg.block())
        op.exten, op.cl_num, op.cl_name = leg.exten, leg.cid_num, leg.cid_name
        self.core.newstate(op, 5)
        self.core.newexten(op, 1, "AppQueue", "(Outgoing Line)")
        self.core.emit("NewConnectedLine", "call", op.block())
        self.core.device_state(member.state_interface, "RINGING")
        self.core.emit("DialState", "call", leg.block(), op.block("Dest"), [("DialStatus", "RINGING")])
        self.core.member_status(member)
        phone = self.core.softphones.setdefault(endpoint, Softphone())
        ring_started = self.core.now()
        # queues.conf timeoutpriority=app: the Queue() timeout cuts the member's ring short
        timeout = self.core.config.member_timeout
        if deadline is not None:
            timeout = max(min(timeout, deadline - ring_started), 0.0)
        answers = phone.answers and phone.ring_seconds < timeout
        cut = run.ring_cut = asyncio.get_running_loop().create_future()
        assert entry.withdraw is not None
        await self._until(ring_started + (phone.ring_seconds if answers else timeout), cut, entry.withdraw)
        run.ring_cut = None
        if entry.withdraw.done() and not cut.done():
            self.ending.cancel_ringing(run)
            return False
        cause = cut.result() if cut.done() else None
        if cause is None and answers:
            self._answer(run, queue, entry, member, op, ring_started)
            await self._bridged(run, phone)
            return True
        if cause is not None:
            # the operator leg was hung up while ringing (AMI Hangup): a declined ring
            elapsed = int((self.core.now() - ring_started) * 1000)
            self.core.agent_event("AgentRingNoAnswer", leg, op, member, ("RingTime", str(elapsed)))
            self.core.emit("SoftHangupRequest", "call", op.block(), [("Cause", str(cause))])
            self.core.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
            run.ringing = None
            self.core.hangup_channel(op, cause)
            self.core.member_status(member)
            self.core.dispatch(queue)
            return False
        elapsed = int((self.core.now() - ring_started) * 1000)
        self.core.agent_event("AgentRingNoAnswer", leg, op, member, ("RingTime", str(elapsed)))
        self.core.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "NOANSWER")])
        self.core.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "CANCEL")])
        run.ringing = None
        self.core.hangup_channel(op, 0)
        self.core.member_status(member)
        self.core.dispatch(queue)  # the member is free for the callers behind (autofill)
        return False

    def _answer(
        self, run: CallRun, queue: Queue, entry: Entry, member: Member, op: Channel, ring_started: float
    ) -> None:
        leg = run.leg
        self.core.newstate(op, 6)
        self.core.device_state(member.state_interface, "INUSE")
        self.core.emit("DialEnd", "call", leg.block(), op.block("Dest"), [("DialStatus", "ANSWER")])
        if queue.strategy == "ringall":  # the caller learns who answered only now
            leg.cl_num, leg.cl_name = op.cid_num, op.cid_name
            self.core.emit("NewConnectedLine", "call", leg.block())
        if self.ending.hold_music(run):
            self.core.emit("MusicOnHoldStop", "call", leg.block())
        hold = int(self.core.now() - entry.joined)
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
                self.core.varset(chan, var, value)
        for chan in (leg, op):
            self.core.varset(chan, "QEHOLDTIME", str(hold))
            self.core.varset(chan, "QEORIGINALPOS", str(entry.original_position))
        for chan in (leg, op):
            for var, value in queue.channel_vars():
                self.core.varset(chan, var, value)
        position, count = self.ending.leave_queue(run)
        queue.holdtime = int((queue.holdtime * 3 + hold) / 4)
        self.core.queue_caller_leave(leg, queue, position, count)
        self.core.varset(leg, "QUEUEPOSITION", str(position))
        if run.flow == "legacy":
            self.core.varset(leg, "QUEUEWAIT", str(hold))
            self.core.varset(leg, "QUEUEWAIT_MS", str(int((self.core.now() - entry.joined) * 1000)))
        ring = int(self.core.now() - ring_started)
        self.core.agent_event("AgentConnect", leg, op, member, ("HoldTime", str(hold)), ("RingTime", str(ring)))
        bridge = Bridge(str(uuid.UUID(int=self.core.seq * 7919 + 1 + int(self.core.epoch))))
        self.core.emit("BridgeCreate", "call", bridge.block())
        for chan in (op, leg):
            bridge.channels.append(chan)
            chan.bridge = bridge
            self.core.emit("BridgeEnter", "call", bridge.block(), chan.block())
        run.ringing = None
        run.operator, run.member, run.connected_at = op, member, self.core.now()
        run.phase = PHASE_BRIDGED
        run.placed.answered_by = member.interface
        self.core.member_status(member)

    async def _bridged(self, run: CallRun, phone: Softphone) -> None:
        if phone.talk_seconds is None:
            await asyncio.Event().wait()  # talks until someone hangs up
            return
        await self.core.sleep(phone.talk_seconds)
        self.ending.agent_hangup(run)
