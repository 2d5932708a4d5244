"""How a call ends: the caller hangs up, gives up in the queue, or the operator hangs up.

The hang-up side of the call flow (:mod:`ngcc112.sim.flow`): leaving the queue,
abandoning it, the bridge coming apart, the caller's own timer, and the
Hangup / QueueCallerAbandon / AgentComplete bursts each way of ending emits.
"""

from __future__ import annotations

import asyncio

import structlog

from ngcc112 import names
from ngcc112.sim.core import EngineCore
from ngcc112.sim.model import Channel
from ngcc112.sim.run import PHASE_BRIDGED, PHASE_DONE, PHASE_PROMPT, PHASE_QUEUE, CallRun

log = structlog.get_logger(__name__)


class CallEnding:
    """The ways a running call ends, and what each emits."""

    def __init__(self, core: EngineCore) -> None:
        self.core = core

    def hold_music(self, run: CallRun) -> bool:
        """The older labs had hold music (MusicOnHoldStart/Stop); the shipped configuration
        defines no music class, so the shipped flow has none (r_ recordings)."""
        return run.flow != "shipped"

    def leave_queue(self, run: CallRun) -> tuple[int, int]:
        queue, entry = run.queue, run.entry
        assert queue is not None and entry is not None
        position = queue.position(entry)
        queue.entries.remove(entry)
        if entry.offer is not None and not entry.offer.done():
            entry.offer.cancel()
        run.entry = None
        self.core.dispatch(queue)
        return position, len(queue.entries)

    def complete(self, run: CallRun, reason: str) -> None:
        queue, member, op, leg = run.queue, run.member, run.operator, run.leg
        assert queue is not None and member is not None and op is not None
        talk = int(self.core.now() - run.connected_at)
        hold = int(run.connected_at - (run.answered_at if run.entry is None else run.entry.joined))
        hold = int(leg.variables.get("QEHOLDTIME", hold))
        self.core.agent_event(
            "AgentComplete", leg, op, member, ("HoldTime", str(hold)), ("TalkTime", str(talk)), ("Reason", reason)
        )
        queue.completed += 1
        queue.talktime = int((queue.talktime * 3 + talk) / 4)
        member.calls_taken += 1
        member.last_call = int(self.core.wall())

    def bridge_leave(self, chan: Channel) -> None:
        bridge = chan.bridge
        if bridge is None:
            return
        bridge.channels.remove(chan)
        chan.bridge = None
        self.core.emit("BridgeLeave", "call", bridge.block(), chan.block())
        if not bridge.channels:
            self.core.emit("BridgeDestroy", "call", bridge.block())

    def _answered_vars(self, run: CallRun) -> None:
        leg = run.leg
        talk = self.core.now() - run.connected_at
        dialed = self.core.now() - leg.created
        self.core.varset(leg, "ANSWEREDTIME", str(int(talk)))
        self.core.varset(leg, "ANSWEREDTIME_MS", str(int(talk * 1000)))
        self.core.varset(leg, "DIALEDTIME", str(int(dialed)))
        self.core.varset(leg, "DIALEDTIME_MS", str(int(dialed * 1000)))

    def agent_hangup(self, run: CallRun) -> None:
        """The operator hangs up a bridged call (a_, j_: Reason agent)."""
        op, leg, member = run.operator, run.leg, run.member
        assert op is not None and member is not None
        self._cancel_timer(run)
        self.core.emit("HangupRequest", "call", op.block())
        self.complete(run, "agent")
        self.bridge_leave(op)
        self.bridge_leave(leg)
        self._answered_vars(run)
        self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
        if run.local1 is not None:
            self.core.emit("HangupRequest", "call", run.local1.block(), [("Cause", "16")])
            self.core.hangup_channel(leg, 16)
            self.core.hangup_channel(op, 16)
            self.core.member_status(member)
            # the half has taken the operator's identity (connected line) by now;
            # Asterisk reports that even after the half's Hangup (a_local_)
            one = run.local1
            one.cid_num, one.cid_name = op.cid_num, op.cid_name
            self.core.hangup_channel(one, 16)
            self.core.emit(
                "NewCallerid", "call", one.block(), [("CID-CallingPres", "0 (Presentation Allowed, Not Screened)")]
            )
        else:
            self.core.hangup_channel(op, 16)
            self.core.member_status(member)
            self.core.hangup_channel(leg, 16)
        self.core.end_run(run, "answered")
        self.core.dispatch_all()

    def arm_caller_timer(self, run: CallRun) -> None:
        after = run.script.hangup_after
        if after is None or run.script.local_exten is not None:
            return

        async def timer() -> None:
            await self.core.sleep(run.answered_at + after - self.core.now())
            run.timer = None
            self.caller_hangup(run)

        run.timer = asyncio.create_task(timer(), name=f"sim-hangup-{run.leg.name}")

    def _cancel_timer(self, run: CallRun) -> None:
        current = asyncio.current_task()
        if run.timer is not None and run.timer is not current:
            run.timer.cancel()
        run.timer = None

    def stop_flow(self, run: CallRun) -> None:
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
            self.core.emit("HangupRequest", "call", leg.block())
            return 0 if run.phase != PHASE_BRIDGED else cause
        if run.script.local_exten is not None:
            self.core.newexten(one, one.priority + 1, "Hangup", "")
            self.core.emit("SoftHangupRequest", "call", one.block(), [("Cause", str(cause))])
            self.core.emit("HangupRequest", "call", leg.block(), [("Cause", str(cause))])
            self.core.hangup_channel(one, cause)
            return cause
        self.core.emit("HangupRequest", "call", leg.block(), [("Cause", "0")])
        self.core.hangup_channel(one, 0)
        return 0

    def cancel_ringing(self, run: CallRun) -> None:
        if run.ringing is None:
            return
        member, op = run.ringing
        run.ringing = None
        self.core.emit("DialEnd", "call", run.leg.block(), op.block("Dest"), [("DialStatus", "CANCEL")])
        self.core.hangup_channel(op, 0)
        self.core.member_status(member)

    def abandon(self, run: CallRun, withdraw_info: str | None = None, reason: str = "hangup") -> None:
        """app_queue's record_abandoned and leave_queue: the caller hung up (``reason``
        "hangup"), timed out ("TIMEOUT") or was withdrawn ("WITHDRAW")."""
        queue, entry, leg = run.queue, run.entry, run.leg
        assert queue is not None and entry is not None
        moh = self.hold_music(run)

        def durations() -> None:
            waited = self.core.now() - entry.joined
            self.core.varset(leg, "QUEUEWAIT", str(int(waited)))
            self.core.varset(leg, "QUEUEWAIT_MS", str(int(waited * 1000)))
            dialed = self.core.now() - leg.created
            self.core.varset(leg, "DIALEDTIME", str(int(dialed)))
            self.core.varset(leg, "DIALEDTIME_MS", str(int(dialed * 1000)))
            self.core.varset(leg, "ANSWEREDTIME", "0")
            self.core.varset(leg, "ANSWEREDTIME_MS", "0")

        def queue_vars() -> None:  # queues.conf setqueuevar=yes
            for var, value in queue.channel_vars():
                self.core.varset(leg, var, value)

        queue.abandoned += 1
        if reason == "TIMEOUT":
            self.core.varset(leg, "ABANDONED", "TRUE")
            queue_vars()
        else:
            if moh and reason == "hangup":
                self.core.emit("MusicOnHoldStop", "call", leg.block())
            durations()
            self.core.varset(leg, "ABANDONED", "TRUE")
            queue_vars()
        position = queue.position(entry)
        self.core.emit(
            "QueueCallerAbandon",
            "agent",
            leg.block(),
            [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(int(self.core.now() - entry.joined))),
            ],
        )
        if withdraw_info is not None:
            self.core.varset(leg, "QUEUE_WITHDRAW_INFO", withdraw_info)
        if moh and reason != "hangup":
            self.core.emit("MusicOnHoldStop", "call", leg.block())
        if reason == "TIMEOUT":
            durations()
        queue_vars()
        position, count = self.leave_queue(run)
        self.core.queue_caller_leave(leg, queue, position, count)
        self.core.varset(leg, "QUEUEPOSITION", str(position))

    def caller_hangup(self, run: CallRun, cause: int = 16) -> None:
        """The caller hangs up (BYE, or the Local half's application ends)."""
        if run.phase == PHASE_DONE:
            return
        self.stop_flow(run)
        leg = run.leg
        phase = run.phase
        if phase == PHASE_BRIDGED:
            op, member = run.operator, run.member
            assert op is not None and member is not None
            final_cause = self._caller_leg_gone(run, cause)
            self.complete(run, "caller")
            self.bridge_leave(leg)
            self._answered_vars(run)
            self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            self.core.hangup_channel(leg, final_cause or 16)
            self.bridge_leave(op)
            self.core.hangup_channel(op, 16)
            self.core.member_status(member)
            self.core.end_run(run, "answered")
            self.core.dispatch_all()
            return
        final_cause = self._caller_leg_gone(run, cause)
        if phase == PHASE_QUEUE:
            self.cancel_ringing(run)
            self.abandon(run)
            outcome = "abandoned"
        elif phase == PHASE_PROMPT:
            self.core.varset(leg, names.VAR_SILENT_DIGIT, "")
            self.core.varset(leg, "READSTATUS", "HANGUP")
            outcome = "prompt"
        else:
            outcome = "hangup"
        self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
        self.core.hangup_channel(leg, final_cause)
        self.core.end_run(run, outcome)
