"""What happens to the simulated Asterisk from outside: a phone registering or going away,
AMI clients' Hangup, Redirect and Originate to an operator's softphone (a callback), and
``core restart now`` under running calls.

The other side of the call flow (:mod:`ngcc112.sim.flow`): the flow runs a call on its
own, these break into it. They end calls the way :mod:`ngcc112.sim.ending` does and emit
through the core (:mod:`ngcc112.sim.core`).
"""

from __future__ import annotations

from ngcc112.sim.core import EngineCore
from ngcc112.sim.ending import CallEnding
from ngcc112.sim.model import Channel, Softphone
from ngcc112.sim.run import PHASE_BRIDGED, PHASE_DONE, PHASE_ELSEWHERE, PHASE_QUEUE
from ngcc112.sim.wire import Pairs


class Interventions:
    """Phones registering, AMI's effect on running calls, and Asterisk restarting under them."""

    def __init__(self, core: EngineCore, ending: CallEnding) -> None:
        self.core = core
        self.ending = ending

    def set_registered(self, endpoint: str, registered: bool) -> None:
        """The phone registers (or its registration goes): res_pjsip's contact and peer
        events, then the device state and every queue membership's status (r_answered)."""
        changed = self.core.registered.get(endpoint) != registered
        self.core.registered[endpoint] = registered
        self.core.softphones.setdefault(endpoint, Softphone())
        if changed:
            contact: Pairs = [
                ("URI", f"sip:{endpoint}@127.0.0.1:{5070 + len(endpoint) * 7}"),
                ("ContactStatus", "NonQualified" if registered else "Removed"),
                ("AOR", endpoint),
                ("EndpointName", endpoint),
                ("RoundtripUsec", "0"),
            ]
            peer: Pairs = [
                ("ChannelType", "PJSIP"),
                ("Peer", f"PJSIP/{endpoint}"),
                ("PeerStatus", "Reachable" if registered else "Unreachable"),
            ]
            if registered:
                self.core.emit("ContactStatus", "system", contact)
                self.core.emit("PeerStatus", "system", peer)
                self.core.emit(
                    "ContactStatus",
                    "system",
                    [*contact[:1], ("ContactStatus", "Reachable"), *contact[2:4], ("RoundtripUsec", "500")],
                )
            else:
                self.core.emit("PeerStatus", "system", peer)
                self.core.emit("ContactStatus", "system", contact)
        self.core.device_state(f"PJSIP/{endpoint}", self.core.device_name(endpoint))
        member = next(
            (m for q in self.core.queues.values() for m in q.members.values() if m.endpoint == endpoint), None
        )
        if member is not None:
            self.core.member_status(member)
        self.core.dispatch_all()

    def hangup_action(self, chan: Channel, cause: int) -> None:
        """AMI ``Hangup`` on one of a call's channels."""
        run = chan.call
        if run is None:
            self.core.emit("SoftHangupRequest", "call", chan.block(), [("Cause", str(cause))])
            self.core.hangup_channel(chan, cause)
            return
        if run.operator is chan and run.phase == PHASE_BRIDGED:
            self.ending.stop_flow(run)
            self.ending.agent_hangup(run)
            return
        if run.ringing is not None and run.ringing[1] is chan:
            if run.ring_cut is not None and not run.ring_cut.done():
                run.ring_cut.set_result(cause)
            return
        if chan is run.local1 or run.local1 is None:
            self.ending.caller_hangup(run, cause)
            return
        # the 112 leg itself (Local;2): its half follows
        self.ending.stop_flow(run)
        leg = run.leg
        if leg.application == "MusicOnHold":
            self.core.emit("MusicOnHoldStop", "call", leg.block())
        self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", str(cause))])
        phase = run.phase
        if phase == PHASE_QUEUE:
            self.ending.cancel_ringing(run)
            self.ending.abandon(run)
        elif phase == PHASE_BRIDGED and run.operator is not None and run.member is not None:
            self.ending.complete(run, "caller")
            self.ending.bridge_leave(leg)
            self.ending.bridge_leave(run.operator)
            self.core.hangup_channel(run.operator, cause)
            self.core.member_status(run.member)
        one = run.local1
        assert one is not None
        self.core.emit("HangupRequest", "call", one.block(), [("Cause", str(cause))])
        self.core.hangup_channel(leg, cause)
        self.core.hangup_channel(one, cause)
        self.core.end_run(run, "hangup")
        self.core.dispatch_all()

    def redirect(self, chan: Channel, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: the channel leaves whatever it runs (queue: abandon) for ``context``."""
        run = chan.call
        if run is not None and run.phase == PHASE_BRIDGED and chan is run.operator:
            # the operator leg goes elsewhere: for the queue that is the end of the call
            self.ending.stop_flow(run)
            self.ending.agent_hangup(run)
            return
        if run is not None:
            self.ending.stop_flow(run)
            if run.phase == PHASE_BRIDGED and chan is run.leg and run.operator is not None:
                op, member = run.operator, run.member
                assert member is not None
                self.ending.complete(run, "transfer")
                self.ending.bridge_leave(chan)
                self.ending.bridge_leave(op)
                self.core.emit("SoftHangupRequest", "call", op.block(), [("Cause", "16")])
                self.core.hangup_channel(op, 16)
                self.core.member_status(member)
                run.operator = None
                self.core.dispatch_all()
            if run.phase == PHASE_QUEUE and chan is run.leg:
                self.ending.cancel_ringing(run)
                self.core.emit("MusicOnHoldStop", "call", chan.block())
                dialed = self.core.now() - run.answered_at
                self.core.varset(chan, "DIALEDTIME", str(int(dialed)))
                self.core.varset(chan, "DIALEDTIME_MS", str(int(dialed * 1000)))
                self.core.varset(chan, "ANSWEREDTIME", "0")
                self.core.varset(chan, "ANSWEREDTIME_MS", "0")
                chan.context, chan.exten, chan.priority = context, exten, priority
                self.core.emit(
                    "Newexten",
                    "dialplan",
                    chan.block(),
                    [("Extension", exten), ("Application", chan.application), ("AppData", chan.appdata)],
                )
                self.core.varset(chan, "ABANDONED", "TRUE")
                assert run.queue is not None and run.entry is not None
                run.queue.abandoned += 1
                entry = run.entry
                position, count = self.ending.leave_queue(run)
                self.core.emit(
                    "QueueCallerAbandon",
                    "agent",
                    chan.block(),
                    [
                        ("Queue", run.queue.name),
                        ("Position", str(position)),
                        ("OriginalPosition", str(entry.original_position)),
                        ("HoldTime", str(int(self.core.now() - entry.joined))),
                    ],
                )
                self.core.queue_caller_leave(chan, run.queue, position, count)
            run.phase = PHASE_ELSEWHERE
            if run.script.hangup_after is not None:
                self.ending.arm_caller_timer(run)
        else:
            chan.context, chan.exten, chan.priority = context, exten, priority
        if context == "ngcc-test" and exten == "hold":
            self.core.newexten(chan, priority + 1, "MusicOnHold", "default,60")
            self.core.emit("MusicOnHoldStart", "call", chan.block(), [("Class", "default")])
        elif context == "ngcc-test" and exten == "echo":
            self.core.newexten(chan, priority, "Answer", "")
            self.core.newexten(chan, priority + 1, "Echo", "")
        else:
            self.core.newexten(chan, priority, "Wait", "60")

    def restart_hangup_all(self) -> None:
        """``core restart now``: every call is hung up first (h_asterisk_restart)."""
        for run in list(self.core.calls):
            if run.phase == PHASE_DONE:
                continue
            self.ending.stop_flow(run)
            leg, one = run.leg, run.local1
            if one is not None:
                self.core.emit("SoftHangupRequest", "call", one.block(), [("Cause", "4")])
            self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "4")])
            if one is not None:
                self.core.emit("HangupRequest", "call", leg.block(), [("Cause", "0")])
                self.core.hangup_channel(one, 0)
            if run.phase == PHASE_QUEUE:
                self.ending.cancel_ringing(run)
                self.ending.abandon(run)
                self.core.emit("SoftHangupRequest", "call", leg.block(), [("Cause", "16")])
            elif run.phase == PHASE_BRIDGED and run.operator is not None and run.member is not None:
                self.ending.complete(run, "caller")
                self.ending.bridge_leave(leg)
                self.ending.bridge_leave(run.operator)
                self.core.hangup_channel(run.operator, 0)
            self.core.hangup_channel(leg, 0)
            self.core.end_run(run, "restart")
        for chan in list(self.core.channels.values()):
            self.core.hangup_channel(chan, 0)

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
        phone = self.core.softphones.setdefault(endpoint, Softphone())
        op_num, op_name = self.core.operator_cid(endpoint)
        registered = self.core.registered.get(endpoint, False)
        chan = self.core.new_channel(
            self.core.pjsip_name(endpoint),
            state=0,
            cid_num=number or op_num,
            cid_name=name or op_name,
            context=context,
            exten=exten or "s",
            endpoint=endpoint,
        )
        self.core.emit("Newchannel", "call", chan.block())

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
            self.core.emit_raw("call", pairs)

        if not registered:
            respond(False, "0")
            self.core.hangup_channel(chan, 0)
            return
        self.core.newstate(chan, 5)
        self.core.device_state(f"PJSIP/{endpoint}", "RINGING")
        if not phone.answers:
            await self.core.sleep(30.0)
            respond(False, "3")
            self.core.hangup_channel(chan, 0)
            return
        await self.core.sleep(phone.ring_seconds)
        self.core.newstate(chan, 6)
        self.core.device_state(f"PJSIP/{endpoint}", "INUSE")
        respond(True, "4")
        if application:
            self.core.newexten(chan, 1, application, data)
            try:
                seconds = float(data) if application == "Wait" else 1.0
            except ValueError:
                seconds = 1.0
        else:
            self.core.newexten(chan, 1, "Dial", f"PJSIP/{exten}@trunk,60")
            seconds = phone.talk_seconds or 30.0
        await self.core.sleep(seconds)
        if chan.name in self.core.channels:
            self.core.emit("SoftHangupRequest", "call", chan.block(), [("Cause", "16")])
            self.core.hangup_channel(chan, 16)
