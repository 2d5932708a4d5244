"""The call tracker: AMI messages in, typed call events out. Pure and synchronous.

Channels are grouped into calls by Linkedid. A call is a 112 call from the
moment one of its channels is seen in the 112 entry point (context and
extension from settings), whether it arrives there (``Newchannel``) or is sent
there (``Newexten``, e.g. an operator's phone dialling 112). Channels of the
same Linkedid created later (the queue ringing an operator) are *member* legs;
only the caller's own legs decide when the call is over.

Nothing here assumes which event follows which: every handler keys on
Uniqueid / Linkedid, tolerates unknown channels and repeats, and logs what it
skips. One dispatch table, one error boundary (:meth:`CallTracker.feed`). The channels
and calls live in a :class:`~ngcc112.ami.calls.CallBook`; the reconciliation after a
reconnect is :mod:`ngcc112.ami.resync`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import structlog

from ngcc112 import names
from ngcc112.ami.calls import Call, CallBook, Channel, int_or_none, member_state
from ngcc112.ami.events import (
    CallAbandoned,
    CallConnected,
    CallEnded,
    CallerDigit,
    CallerTalking,
    CallQueued,
    CallVariables,
    CallWithdrawn,
    OperatorLegEnded,
    OperatorRinging,
    OperatorRingNoAnswer,
    TrackerEvent,
)
from ngcc112.ami.message import AmiMessage, unescape
from ngcc112.ami.resync import resync, resync_queues

log = structlog.get_logger(__name__)

#: Prefix of the channel variables the shipped dialplan sets for the daemon.
NGCC_VARIABLE_PREFIX = "NGCC_"


class CallTracker:
    """Follows every channel; reports the 112 calls among them."""

    def __init__(
        self,
        *,
        context: str,
        extensions: Iterable[str],
        queues: Iterable[str],
        server_name: str = "",
        strict: bool = False,
    ) -> None:
        #: Re-raise instead of logging at the error boundaries: for replaying recordings
        #: in tests, where ``tracker.event_failed`` must never happen.
        self._strict = strict
        self._book = CallBook(context=context, extensions=extensions, queues=queues, server_name=server_name)
        self._handlers: dict[str, Callable[[AmiMessage], list[TrackerEvent]]] = {
            "Newchannel": self._on_newchannel,
            "Newexten": self._on_newexten,
            "NewCallerid": self._on_newcallerid,
            "VarSet": self._on_varset,
            "QueueCallerJoin": self._on_queue_join,
            "AgentCalled": self._on_agent_called,
            "AgentRingNoAnswer": self._on_agent_ring_no_answer,
            "AgentConnect": self._on_agent_connect,
            "AgentComplete": self._on_agent_complete,
            "QueueCallerAbandon": self._on_queue_abandon,
            "ChannelTalkingStart": self._on_talking,
            "ChannelTalkingStop": self._on_talking,
            "DTMFEnd": self._on_dtmf,
            "Hangup": self._on_hangup,
            "QueueMemberAdded": self._on_member,
            "QueueMemberStatus": self._on_member,
            "QueueMemberPause": self._on_member,
            "QueueMemberRemoved": self._on_member,
        }

    # public -------------------------------------------------------------------
    def feed(self, message: AmiMessage) -> list[TrackerEvent]:
        """Apply one AMI event; never raises on bad or surprising input."""
        handler = self._handlers.get(message.name)
        if handler is None:
            return []
        try:
            return handler(message)
        except Exception:  # the error boundary: one bad event must not stop the loop
            if self._strict:
                raise
            log.exception(
                "tracker.event_failed",
                ami_event=message.name,
                uniqueid=message.get("Uniqueid"),
                linkedid=message.get("Linkedid"),
            )
            return []

    @property
    def live_calls(self) -> frozenset[str]:
        return frozenset(self._book.calls)

    def call_channel(self, call_id: str) -> str | None:
        """The caller-side channel name of a live call (for queue actions)."""
        call = self._book.calls.get(call_id)
        if call is None:
            return None
        names = [self._book.channels[u].name for u in call.caller_legs if u in self._book.channels]
        # The leg that runs the dialplan and sits in the queue is the newest caller leg.
        return sorted(names)[-1] if names else None

    def resync(self, at: datetime, channels: Iterable[AmiMessage]) -> list[TrackerEvent]:
        """Reconcile with the channels Asterisk reports after a (re)connect."""
        try:
            return resync(self._book, at, list(channels))
        except Exception:
            if self._strict:
                raise
            log.exception("tracker.resync_failed")
            return []

    def resync_queues(self, at: datetime, items: Iterable[AmiMessage]) -> list[TrackerEvent]:
        """Apply ``QueueStatus``: waiting callers' queue and position, and every member."""
        try:
            return resync_queues(self._book, at, list(items))
        except Exception:
            if self._strict:
                raise
            log.exception("tracker.queue_resync_failed")
            return []

    # channel lifecycle ----------------------------------------------------------
    def _on_newchannel(self, message: AmiMessage) -> list[TrackerEvent]:
        uniqueid, linkedid = message.get("Uniqueid"), message.get("Linkedid")
        if not uniqueid or uniqueid in self._book.channels:
            return []
        channel = Channel(uniqueid, linkedid or uniqueid, message.get("Channel"), "other")
        self._book.channels[uniqueid] = channel
        entry = self._book.is_entry(message.get("Context"), message.get("Exten"))
        call = self._book.calls.get(channel.linkedid)
        if call is not None:
            if entry:
                return self._book.join_as_caller(call, channel, message)
            channel.role = "member"
            return []
        if entry:
            return self._book.open_call(message, channel, at=message.received_at)
        return []

    def _on_newexten(self, message: AmiMessage) -> list[TrackerEvent]:
        channel = self._book.channels.get(message.get("Uniqueid"))
        if channel is None or channel.role == "caller":
            return []
        if not self._book.is_entry(message.get("Context"), message.get("Extension")):
            return []
        call = self._book.calls.get(channel.linkedid)
        if call is None:
            return self._book.open_call(message, channel, at=message.received_at)
        return self._book.join_as_caller(call, channel, message)

    def _on_newcallerid(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.caller_call(message)
        return self._book.update_caller_id(call, message) if call else []

    def _on_varset(self, message: AmiMessage) -> list[TrackerEvent]:
        variable = message.get("Variable")
        if variable.lstrip("_") == names.VAR_CALL_MARK:
            return self._on_call_mark(message)
        if variable.startswith(NGCC_VARIABLE_PREFIX):
            call = self._book.caller_call(message)
            if call is None:
                return []
            value = unescape(message.get("Value"))
            return [CallVariables(call_id=call.call_id, at=message.received_at, variables={variable: value})]
        if variable == "QUEUESTATUS" and message.get("Value") == "WITHDRAW":
            call = self._book.caller_call(message)
            if call is None:
                return []
            return [
                CallWithdrawn(
                    call_id=call.call_id,
                    at=message.received_at,
                    queue=call.queue or "",
                    info="withdrawn from the queue",
                )
            ]
        return []

    def _on_call_mark(self, message: AmiMessage) -> list[TrackerEvent]:
        """The dialplan marks every call in the 112 flow (``__NGCC_CALL=1``), whatever
        number the trunk delivered: a channel we did not take for a 112 call is one."""
        channel = self._book.channels.get(message.get("Uniqueid"))
        if channel is None or channel.role != "other" or channel.linkedid in self._book.calls:
            return []
        return self._book.open_call(message, channel, at=message.received_at)

    def _on_hangup(self, message: AmiMessage) -> list[TrackerEvent]:
        uniqueid = message.get("Uniqueid")
        channel = self._book.channels.pop(uniqueid, None)
        self._book.remember_ended(uniqueid)
        if channel is None or channel.role != "caller":
            return []
        call = self._book.calls.get(channel.linkedid)
        if call is None:
            return []
        call.caller_legs.discard(uniqueid)
        if call.caller_legs:
            return []
        del self._book.calls[call.linkedid]
        cause = int_or_none(message.get("Cause"))
        log.debug("tracker.call_ended", call_id=call.call_id, cause=cause, connected=call.connected)
        return [
            CallEnded(call_id=call.call_id, at=message.received_at, cause=cause, cause_text=message.get("Cause-txt"))
        ]

    # queue ------------------------------------------------------------------------
    def _on_queue_join(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None:
            log.debug("tracker.queue_join_unknown_call", channel=message.get("Channel"))
            return []
        channel = self._book.channels.get(message.get("Uniqueid"))
        if channel is not None and channel.role != "caller":
            self._book.join_as_caller(call, channel, message)
        call.queue, call.queued_at = message.get("Queue"), message.received_at
        return [
            CallQueued(
                call_id=call.call_id,
                at=message.received_at,
                queue=call.queue,
                position=int_or_none(message.get("Position")),
                channel=message.get("Channel"),
            )
        ]

    def _on_agent_called(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None:
            return []
        leg = self._book.channels.get(message.get("DestUniqueid"))
        if leg is not None:
            leg.role = "member"
        return [
            OperatorRinging(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                interface=message.get("Interface"),
                member_name=message.get("MemberName"),
            )
        ]

    def _on_agent_ring_no_answer(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None:
            return []
        ring_ms = int_or_none(message.get("RingTime")) or 0  # milliseconds here, seconds in AgentConnect
        return [
            OperatorRingNoAnswer(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                interface=message.get("Interface"),
                member_name=message.get("MemberName"),
                ring_seconds=ring_ms / 1000,
            )
        ]

    def _on_agent_connect(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None or call.connected:
            return []
        call.connected = True
        return [
            CallConnected(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                interface=message.get("Interface"),
                member_name=message.get("MemberName"),
                waited_seconds=self._waited(call, message),
            )
        ]

    def _on_agent_complete(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None or not call.connected:
            return []
        return [
            OperatorLegEnded(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                interface=message.get("Interface"),
                reason=message.get("Reason"),
            )
        ]

    def _on_queue_abandon(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.call_of(message)
        if call is None or call.connected:
            return []
        call.abandoned = True
        return [
            CallAbandoned(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                position=int_or_none(message.get("Position")),
                waited_seconds=self._waited(call, message),
            )
        ]

    @staticmethod
    def _waited(call: Call, message: AmiMessage) -> float | None:
        """Our own clock from QueueCallerJoin; Asterisk's HoldTime only as a fallback."""
        if call.queued_at is not None:
            return max(0.0, (message.received_at - call.queued_at).total_seconds())
        hold = int_or_none(message.get("HoldTime"))
        return float(hold) if hold is not None else None

    # caller signals ------------------------------------------------------------------
    def _on_talking(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._book.caller_call(message)
        if call is None:
            return []
        talking = message.name == "ChannelTalkingStart"
        return [
            CallerTalking(
                call_id=call.call_id,
                at=message.received_at,
                talking=talking,
                duration_ms=None if talking else int_or_none(message.get("Duration")),
            )
        ]

    def _on_dtmf(self, message: AmiMessage) -> list[TrackerEvent]:
        if message.get("Direction") != "Received":
            return []
        call = self._book.caller_call(message)
        if call is None:
            return []
        return [
            CallerDigit(
                call_id=call.call_id,
                at=message.received_at,
                digit=message.get("Digit"),
                duration_ms=int_or_none(message.get("DurationMs")),
            )
        ]

    # operators --------------------------------------------------------------------------
    def _on_member(self, message: AmiMessage) -> list[TrackerEvent]:
        return [member_state(message, in_queue=message.name != "QueueMemberRemoved")]
