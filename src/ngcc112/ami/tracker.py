"""The call tracker: AMI messages in, typed call events out. Pure and synchronous.

Channels are grouped into calls by Linkedid. A call is a 112 call from the
moment one of its channels is seen in the 112 entry point (context and
extension from settings), whether it arrives there (``Newchannel``) or is sent
there (``Newexten``, e.g. an operator's phone dialling 112). Channels of the
same Linkedid created later (the queue ringing an operator) are *member* legs;
only the caller's own legs decide when the call is over.

Nothing here assumes which event follows which: every handler keys on
Uniqueid / Linkedid, tolerates unknown channels and repeats, and logs what it
skips. One dispatch table, one error boundary (:meth:`CallTracker.feed`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from ngcc112 import names

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerDigit,
    CallerIdentified,
    CallerTalking,
    CallQueued,
    CallsResynced,
    CallVariables,
    CallWithdrawn,
    MembersResynced,
    MemberState,
    OperatorLegEnded,
    OperatorRinging,
    OperatorRingNoAnswer,
    TrackerEvent,
)
from ngcc112.ami import callerid
from ngcc112.ami.message import AmiMessage, unescape

log = structlog.get_logger(__name__)

#: Prefix of the channel variables the shipped dialplan sets for the daemon.
NGCC_VARIABLE_PREFIX = "NGCC_"
#: How many ended Uniqueids are remembered so a late snapshot cannot revive them.
ENDED_MEMORY = 10_000


@dataclass(slots=True)
class _Channel:
    uniqueid: str
    linkedid: str
    name: str
    role: str  # "caller", "member" or "other"


@dataclass(slots=True)
class _Call:
    call_id: str
    linkedid: str
    arrived_at: datetime
    caller_number: str | None = None
    caller_name: str | None = None
    #: Live caller-side Uniqueids; the call ends when the last one hangs up.
    caller_legs: set[str] = field(default_factory=set)
    queue: str | None = None
    queued_at: datetime | None = None
    connected: bool = False
    abandoned: bool = False


def _int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _duration(value: str) -> timedelta:
    """CoreShowChannel's ``Duration: HH:MM:SS``."""
    try:
        hours, minutes, seconds = (int(part) for part in value.split(":"))
    except ValueError:
        return timedelta(0)
    return timedelta(hours=hours, minutes=minutes, seconds=seconds)


def member_interface(channel_name: str) -> str:
    """``PJSIP/op1-0000001a`` → ``PJSIP/op1`` (the queue member interface)."""
    base, sep, suffix = channel_name.rpartition("-")
    return base if sep and suffix and all(c in "0123456789abcdef" for c in suffix.lower()) else channel_name


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
        self._context = context
        self._extensions = frozenset(extensions)
        self._queues = frozenset(queues)
        self._prefix = f"{server_name}:" if server_name else ""
        self._channels: dict[str, _Channel] = {}
        self._calls: dict[str, _Call] = {}
        self._ended: OrderedDict[str, None] = OrderedDict()
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
        return frozenset(self._calls)

    def call_channel(self, call_id: str) -> str | None:
        """The caller-side channel name of a live call (for queue actions)."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        names = [self._channels[u].name for u in call.caller_legs if u in self._channels]
        # The leg that runs the dialplan and sits in the queue is the newest caller leg.
        return sorted(names)[-1] if names else None

    def resync(self, at: datetime, channels: Iterable[AmiMessage]) -> list[TrackerEvent]:
        """Reconcile with the channels Asterisk reports after a (re)connect."""
        try:
            return self._resync(at, list(channels))
        except Exception:
            if self._strict:
                raise
            log.exception("tracker.resync_failed")
            return []

    def resync_queues(self, at: datetime, items: Iterable[AmiMessage]) -> list[TrackerEvent]:
        """Apply ``QueueStatus``: waiting callers' queue and position, and every member."""
        try:
            return self._resync_queues(at, list(items))
        except Exception:
            if self._strict:
                raise
            log.exception("tracker.queue_resync_failed")
            return []

    # helpers ------------------------------------------------------------------
    def _call_id(self, linkedid: str) -> str:
        return f"{self._prefix}{linkedid}"

    def _is_entry(self, context: str, exten: str) -> bool:
        return context == self._context and exten in self._extensions

    def _call_of(self, message: AmiMessage) -> _Call | None:
        linkedid = message.get("Linkedid")
        if linkedid:
            call = self._calls.get(linkedid)
            if call is not None:
                return call
        channel = self._channels.get(message.get("Uniqueid"))
        return self._calls.get(channel.linkedid) if channel else None

    def _caller_call(self, message: AmiMessage) -> _Call | None:
        """The call, when the message is about one of its caller-side legs."""
        channel = self._channels.get(message.get("Uniqueid"))
        if channel is None or channel.role != "caller":
            return None
        return self._calls.get(channel.linkedid)

    def _open_call(
        self, message: AmiMessage, channel: _Channel, *, at: datetime, adopted: bool = False
    ) -> list[TrackerEvent]:
        call = _Call(
            call_id=self._call_id(channel.linkedid),
            linkedid=channel.linkedid,
            arrived_at=at,
            caller_number=callerid.caller_number(message.get("CallerIDNum")),
            caller_name=callerid.caller_name(message.get("CallerIDName"), message.get("Channel")),
        )
        self._calls[channel.linkedid] = call
        channel.role = "caller"
        call.caller_legs.add(channel.uniqueid)
        log.debug(
            "tracker.call_arrived",
            call_id=call.call_id,
            channel=channel.name,
            caller=call.caller_number,
            adopted=adopted,
        )
        return [
            CallArrived(
                call_id=call.call_id,
                at=at,
                channel=channel.name,
                uniqueid=channel.uniqueid,
                caller_number=call.caller_number,
                caller_name=call.caller_name,
                exten=message.get("Exten") or message.get("Extension"),
                adopted=adopted,
            )
        ]

    def _join_as_caller(self, call: _Call, channel: _Channel, message: AmiMessage) -> list[TrackerEvent]:
        channel.role = "caller"
        call.caller_legs.add(channel.uniqueid)
        return self._update_caller_id(call, message)

    def _update_caller_id(self, call: _Call, message: AmiMessage) -> list[TrackerEvent]:
        number = callerid.caller_number(message.get("CallerIDNum"))
        name = callerid.caller_name(message.get("CallerIDName"), message.get("Channel"))
        if (number, name) == (call.caller_number, call.caller_name) or (number is None and name is None):
            return []
        call.caller_number, call.caller_name = number or call.caller_number, name or call.caller_name
        return [
            CallerIdentified(
                call_id=call.call_id,
                at=message.received_at,
                caller_number=call.caller_number,
                caller_name=call.caller_name,
            )
        ]

    # channel lifecycle ----------------------------------------------------------
    def _on_newchannel(self, message: AmiMessage) -> list[TrackerEvent]:
        uniqueid, linkedid = message.get("Uniqueid"), message.get("Linkedid")
        if not uniqueid or uniqueid in self._channels:
            return []
        channel = _Channel(uniqueid, linkedid or uniqueid, message.get("Channel"), "other")
        self._channels[uniqueid] = channel
        entry = self._is_entry(message.get("Context"), message.get("Exten"))
        call = self._calls.get(channel.linkedid)
        if call is not None:
            if entry:
                return self._join_as_caller(call, channel, message)
            channel.role = "member"
            return []
        if entry:
            return self._open_call(message, channel, at=message.received_at)
        return []

    def _on_newexten(self, message: AmiMessage) -> list[TrackerEvent]:
        channel = self._channels.get(message.get("Uniqueid"))
        if channel is None or channel.role == "caller":
            return []
        if not self._is_entry(message.get("Context"), message.get("Extension")):
            return []
        call = self._calls.get(channel.linkedid)
        if call is None:
            return self._open_call(message, channel, at=message.received_at)
        return self._join_as_caller(call, channel, message)

    def _on_newcallerid(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._caller_call(message)
        return self._update_caller_id(call, message) if call else []

    def _on_varset(self, message: AmiMessage) -> list[TrackerEvent]:
        variable = message.get("Variable")
        if variable.lstrip("_") == names.VAR_CALL_MARK:
            return self._on_call_mark(message)
        if variable.startswith(NGCC_VARIABLE_PREFIX):
            call = self._caller_call(message)
            if call is None:
                return []
            value = unescape(message.get("Value"))
            return [CallVariables(call_id=call.call_id, at=message.received_at, variables={variable: value})]
        if variable == "QUEUESTATUS" and message.get("Value") == "WITHDRAW":
            call = self._caller_call(message)
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
        channel = self._channels.get(message.get("Uniqueid"))
        if channel is None or channel.role != "other" or channel.linkedid in self._calls:
            return []
        return self._open_call(message, channel, at=message.received_at)

    def _on_hangup(self, message: AmiMessage) -> list[TrackerEvent]:
        uniqueid = message.get("Uniqueid")
        channel = self._channels.pop(uniqueid, None)
        self._remember_ended(uniqueid)
        if channel is None or channel.role != "caller":
            return []
        call = self._calls.get(channel.linkedid)
        if call is None:
            return []
        call.caller_legs.discard(uniqueid)
        if call.caller_legs:
            return []
        del self._calls[call.linkedid]
        cause = _int(message.get("Cause"))
        log.debug("tracker.call_ended", call_id=call.call_id, cause=cause, connected=call.connected)
        return [
            CallEnded(call_id=call.call_id, at=message.received_at, cause=cause, cause_text=message.get("Cause-txt"))
        ]

    def _remember_ended(self, uniqueid: str) -> None:
        self._ended[uniqueid] = None
        if len(self._ended) > ENDED_MEMORY:
            self._ended.popitem(last=False)

    # queue ------------------------------------------------------------------------
    def _on_queue_join(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._call_of(message)
        if call is None:
            log.debug("tracker.queue_join_unknown_call", channel=message.get("Channel"))
            return []
        channel = self._channels.get(message.get("Uniqueid"))
        if channel is not None and channel.role != "caller":
            self._join_as_caller(call, channel, message)
        call.queue, call.queued_at = message.get("Queue"), message.received_at
        return [
            CallQueued(
                call_id=call.call_id,
                at=message.received_at,
                queue=call.queue,
                position=_int(message.get("Position")),
                channel=message.get("Channel"),
            )
        ]

    def _on_agent_called(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._call_of(message)
        if call is None:
            return []
        leg = self._channels.get(message.get("DestUniqueid"))
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
        call = self._call_of(message)
        if call is None:
            return []
        ring_ms = _int(message.get("RingTime")) or 0  # milliseconds here, seconds in AgentConnect
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
        call = self._call_of(message)
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
        call = self._call_of(message)
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
        call = self._call_of(message)
        if call is None or call.connected:
            return []
        call.abandoned = True
        return [
            CallAbandoned(
                call_id=call.call_id,
                at=message.received_at,
                queue=message.get("Queue"),
                position=_int(message.get("Position")),
                waited_seconds=self._waited(call, message),
            )
        ]

    @staticmethod
    def _waited(call: _Call, message: AmiMessage) -> float | None:
        """Our own clock from QueueCallerJoin; Asterisk's HoldTime only as a fallback."""
        if call.queued_at is not None:
            return max(0.0, (message.received_at - call.queued_at).total_seconds())
        hold = _int(message.get("HoldTime"))
        return float(hold) if hold is not None else None

    # caller signals ------------------------------------------------------------------
    def _on_talking(self, message: AmiMessage) -> list[TrackerEvent]:
        call = self._caller_call(message)
        if call is None:
            return []
        talking = message.name == "ChannelTalkingStart"
        return [
            CallerTalking(
                call_id=call.call_id,
                at=message.received_at,
                talking=talking,
                duration_ms=None if talking else _int(message.get("Duration")),
            )
        ]

    def _on_dtmf(self, message: AmiMessage) -> list[TrackerEvent]:
        if message.get("Direction") != "Received":
            return []
        call = self._caller_call(message)
        if call is None:
            return []
        return [
            CallerDigit(
                call_id=call.call_id,
                at=message.received_at,
                digit=message.get("Digit"),
                duration_ms=_int(message.get("DurationMs")),
            )
        ]

    # operators --------------------------------------------------------------------------
    def _on_member(self, message: AmiMessage) -> list[TrackerEvent]:
        return [_member_state(message, in_queue=message.name != "QueueMemberRemoved")]

    # resync -------------------------------------------------------------------------------
    def _resync(self, at: datetime, channels: list[AmiMessage]) -> list[TrackerEvent]:
        events: list[TrackerEvent] = []
        live = {m.get("Uniqueid"): m for m in channels if m.get("Uniqueid") and m.get("Uniqueid") not in self._ended}

        # 1. Channels we knew that Asterisk no longer has ended while we were away.
        for uniqueid in [u for u in self._channels if u not in live]:
            channel = self._channels.pop(uniqueid)
            self._remember_ended(uniqueid)
            call = self._calls.get(channel.linkedid)
            if call is None or channel.role != "caller":
                continue
            call.caller_legs.discard(uniqueid)
            if not call.caller_legs:
                del self._calls[call.linkedid]
                log.debug("tracker.call_ended_unobserved", call_id=call.call_id)
                events.append(
                    CallEnded(
                        call_id=call.call_id,
                        at=at,
                        cause=None,
                        cause_text="ended while the AMI link was down",
                        unobserved=True,
                    )
                )

        # 2. Channels Asterisk has that we do not know: adopt the 112 calls among them.
        groups: dict[str, list[AmiMessage]] = {}
        for message in live.values():
            groups.setdefault(message.get("Linkedid") or message.get("Uniqueid"), []).append(message)
        for linkedid, group in groups.items():
            events.extend(self._adopt_group(at, linkedid, group))
        events.append(CallsResynced(at=at, live_call_ids=frozenset(c.call_id for c in self._calls.values())))
        return events

    def _resync_queues(self, at: datetime, items: list[AmiMessage]) -> list[TrackerEvent]:
        events: list[TrackerEvent] = []
        for entry in items:
            if entry.name != "QueueEntry" or entry.get("Queue") not in self._queues:
                continue
            channel = self._channels.get(entry.get("Uniqueid"))
            call = self._calls.get(channel.linkedid) if channel else None
            if call is None or call.queued_at is not None or call.connected:
                continue
            wait = timedelta(seconds=_int(entry.get("Wait")) or 0)
            call.queue, call.queued_at = entry.get("Queue"), at - wait
            events.append(
                CallQueued(
                    call_id=call.call_id,
                    at=at - wait,
                    queue=call.queue,
                    position=_int(entry.get("Position")),
                    channel=entry.get("Channel"),
                )
            )
        members = tuple(
            _member_state(m, in_queue=True, at=at)
            for m in items
            if m.name == "QueueMember" and m.get("Queue") in self._queues
        )
        events.append(MembersResynced(at=at, members=members))
        return events

    def _adopt_group(self, at: datetime, linkedid: str, group: list[AmiMessage]) -> list[TrackerEvent]:
        events: list[TrackerEvent] = []
        group.sort(key=lambda m: _duration(m.get("Duration")), reverse=True)

        def is_caller(m: AmiMessage) -> bool:
            return self._is_entry(m.get("Context"), m.get("Exten")) or (
                m.get("Application") == "Queue" and m.get("ApplicationData").split(",")[0] in self._queues
            )

        call = self._calls.get(linkedid)
        callers = [m for m in group if is_caller(m)]
        if call is None and not callers:
            for m in group:  # not a 112 call (yet): follow its channels all the same
                self._channels.setdefault(
                    m.get("Uniqueid"), _Channel(m.get("Uniqueid"), linkedid, m.get("Channel"), "other")
                )
            return events
        for m in group:
            uniqueid = m.get("Uniqueid")
            if uniqueid in self._channels:
                continue
            channel = _Channel(uniqueid, linkedid, m.get("Channel"), "member")
            self._channels[uniqueid] = channel
            if m in callers:
                if call is None:
                    events.extend(self._open_call(m, channel, adopted=True, at=at - _duration(m.get("Duration"))))
                    call = self._calls[linkedid]
                else:
                    events.extend(self._join_as_caller(call, channel, m))
        if call is not None and not call.connected:
            events.extend(self._connected_while_away(at, call, group))
        return events

    def _connected_while_away(self, at: datetime, call: _Call, group: list[AmiMessage]) -> list[TrackerEvent]:
        """A caller bridged to a member leg was answered while we were away."""
        bridges = {m.get("BridgeId") for m in group if m.get("Uniqueid") in call.caller_legs and m.get("BridgeId")}
        for m in group:
            channel = self._channels.get(m.get("Uniqueid"))
            if channel is None or channel.role == "caller" or m.get("BridgeId") not in bridges:
                continue
            call.connected = True
            interface = member_interface(m.get("Channel"))
            return [
                CallConnected(
                    call_id=call.call_id,
                    at=at,
                    queue=call.queue or "",
                    interface=interface,
                    member_name=interface.rpartition("/")[2],
                    waited_seconds=None,
                )
            ]
        return []


def _member_state(message: AmiMessage, *, in_queue: bool, at: datetime | None = None) -> MemberState:
    return MemberState(
        at=at or message.received_at,
        queue=message.get("Queue"),
        interface=message.get("Interface") or message.get("Location"),
        member_name=message.get("MemberName") or message.get("Name"),
        in_queue=in_queue,
        paused=message.get("Paused") == "1",
        pause_reason=message.get("PausedReason") or message.get("Reason"),
        status=_int(message.get("Status")),
        last_pause=_int(message.get("LastPause")),
    )
