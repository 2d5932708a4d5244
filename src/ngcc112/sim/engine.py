"""The simulated telephony as AMI clients act on it: Hangup, Redirect, withdraw, restart, Originate to an operator.

:class:`Engine` is the whole simulated Asterisk: :class:`~ngcc112.sim.core.EngineCore`
(state and primitives), the calls built on it layer by layer
(:class:`~ngcc112.sim.ending.CallEnding`, :class:`~ngcc112.sim.queueing.QueueFlow`,
:class:`~ngcc112.sim.flow.CallFlow`, :class:`~ngcc112.sim.placing.CallPlacing`) and,
here, what AMI actions and ``core restart now`` do to running calls.
"""

from __future__ import annotations

from ngcc112.sim.model import Channel, Softphone
from ngcc112.sim.placing import CallPlacing
from ngcc112.sim.run import PHASE_BRIDGED, PHASE_DONE, PHASE_ELSEWHERE, PHASE_QUEUE
from ngcc112.sim.wire import Pairs


class Engine(CallPlacing):
    """The simulated Asterisk: calls, queues, softphones, and AMI's effect on them."""

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
                self.emit(
                    "Newexten",
                    "dialplan",
                    chan.block(),
                    [("Extension", exten), ("Application", chan.application), ("AppData", chan.appdata)],
                )
                self.varset(chan, "ABANDONED", "TRUE")
                assert run.queue is not None and run.entry is not None
                run.queue.abandoned += 1
                entry = run.entry
                position, count = self._leave_queue(run)
                self.emit(
                    "QueueCallerAbandon",
                    "agent",
                    chan.block(),
                    [
                        ("Queue", run.queue.name),
                        ("Position", str(position)),
                        ("OriginalPosition", str(entry.original_position)),
                        ("HoldTime", str(int(self.now() - entry.joined))),
                    ],
                )
                self.emit(
                    "QueueCallerLeave",
                    "agent",
                    chan.block(),
                    [("Queue", run.queue.name), ("Position", str(position)), ("Count", str(count))],
                )
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

    async def originate_operator(
        self,
        endpoint: str,
        exten: str,
        context: str,
        application: str,
        data: str,
        number: str,
        name: str,
        action_id: str,
    ) -> None:
        """Originate to an operator softphone (a callback): ring it, then run the target."""
        phone = self.softphones.setdefault(endpoint, Softphone())
        op_num, op_name = self._operator_cid(endpoint)
        registered = self.registered.get(endpoint, False)
        chan = self._new_channel(
            self._pjsip_name(endpoint),
            state=0,
            cid_num=number or op_num,
            cid_name=name or op_name,
            context=context,
            exten=exten or "s",
            endpoint=endpoint,
        )
        self.emit("Newchannel", "call", chan.block())

        def respond(ok: bool, reason: str) -> None:
            if not action_id:
                return
            pairs: Pairs = [
                ("Event", "OriginateResponse"),
                ("Privilege", "call,all"),
                ("ActionID", action_id),
                ("Response", "Success" if ok else "Failure"),
                ("Channel", chan.name),
            ]
            pairs += (
                [("Application", application), ("Data", data)]
                if application
                else [("Context", context), ("Exten", exten)]
            )
            pairs += [
                ("Reason", reason),
                ("Uniqueid", chan.uniqueid),
                ("CallerIDNum", chan.cid_num),
                ("CallerIDName", chan.cid_name),
            ]
            self.emit_raw("call", pairs)

        if not registered:
            respond(False, "0")
            self.hangup_channel(chan, 0)
            return
        self.newstate(chan, 5)
        self.device_state(f"PJSIP/{endpoint}", "RINGING")
        if not phone.answers:
            await self.sleep(30.0)
            respond(False, "3")
            self.hangup_channel(chan, 0)
            return
        await self.sleep(phone.ring_seconds)
        self.newstate(chan, 6)
        self.device_state(f"PJSIP/{endpoint}", "INUSE")
        respond(True, "4")
        if application:
            self.newexten(chan, 1, application, data)
            try:
                seconds = float(data) if application == "Wait" else 1.0
            except ValueError:
                seconds = 1.0
        else:
            self.newexten(chan, 1, "Dial", f"PJSIP/{exten}@trunk,60")
            seconds = phone.talk_seconds or 30.0
        await self.sleep(seconds)
        if chan.name in self.channels:
            self.emit("SoftHangupRequest", "call", chan.block(), [("Cause", "16")])
            self.hangup_channel(chan, 16)
