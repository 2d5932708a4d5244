"""The tracker's book: the channels it follows, the 112 calls among them, and the ended Uniqueids.

Channels are grouped into calls by Linkedid; a call's *caller* legs decide when it is over,
its *member* legs are the queue ringing operators. The book opens calls and joins legs to
them; the handlers (:mod:`ngcc112.ami.tracker`) and the reconciliation after a reconnect
(:mod:`ngcc112.ami.resync`) decide when. Pure and synchronous.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from ngcc112.ami import callerid
from ngcc112.ami.events import CallArrived, CallerIdentified, MemberState, TrackerEvent
from ngcc112.ami.message import AmiMessage

log = structlog.get_logger(__name__)

#: How many ended Uniqueids are remembered so a late snapshot cannot revive them.
ENDED_MEMORY = 10_000


@dataclass(slots=True)
class Channel:
    uniqueid: str
    linkedid: str
    name: str
    role: str  # "caller", "member" or "other"


@dataclass(slots=True)
class Call:
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


def int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def duration(value: str) -> timedelta:
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


def member_state(message: AmiMessage, *, in_queue: bool, at: datetime | None = None) -> MemberState:
    return MemberState(
        at=at or message.received_at,
        queue=message.get("Queue"),
        interface=message.get("Interface") or message.get("Location"),
        member_name=message.get("MemberName") or message.get("Name"),
        in_queue=in_queue,
        paused=message.get("Paused") == "1",
        pause_reason=message.get("PausedReason") or message.get("Reason"),
        status=int_or_none(message.get("Status")),
        last_pause=int_or_none(message.get("LastPause")),
    )


class CallBook:
    """The channels and calls one tracker follows, and the 112 entry point and queues that make a call."""

    def __init__(self, *, context: str, extensions: Iterable[str], queues: Iterable[str], server_name: str) -> None:
        self.context = context
        self.extensions = frozenset(extensions)
        self.queues = frozenset(queues)
        self._prefix = f"{server_name}:" if server_name else ""
        self.channels: dict[str, Channel] = {}
        self.calls: dict[str, Call] = {}
        self.ended: OrderedDict[str, None] = OrderedDict()

    def call_id(self, linkedid: str) -> str:
        return f"{self._prefix}{linkedid}"

    def is_entry(self, context: str, exten: str) -> bool:
        return context == self.context and exten in self.extensions

    def call_of(self, message: AmiMessage) -> Call | None:
        linkedid = message.get("Linkedid")
        if linkedid:
            call = self.calls.get(linkedid)
            if call is not None:
                return call
        channel = self.channels.get(message.get("Uniqueid"))
        return self.calls.get(channel.linkedid) if channel else None

    def caller_call(self, message: AmiMessage) -> Call | None:
        """The call, when the message is about one of its caller-side legs."""
        channel = self.channels.get(message.get("Uniqueid"))
        if channel is None or channel.role != "caller":
            return None
        return self.calls.get(channel.linkedid)

    def remember_ended(self, uniqueid: str) -> None:
        self.ended[uniqueid] = None
        if len(self.ended) > ENDED_MEMORY:
            self.ended.popitem(last=False)

    def open_call(
        self, message: AmiMessage, channel: Channel, *, at: datetime, adopted: bool = False
    ) -> list[TrackerEvent]:
        call = Call(
            call_id=self.call_id(channel.linkedid),
            linkedid=channel.linkedid,
            arrived_at=at,
            caller_number=callerid.caller_number(message.get("CallerIDNum")),
            caller_name=callerid.caller_name(message.get("CallerIDName"), message.get("Channel")),
        )
        self.calls[channel.linkedid] = call
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

    def join_as_caller(self, call: Call, channel: Channel, message: AmiMessage) -> list[TrackerEvent]:
        channel.role = "caller"
        call.caller_legs.add(channel.uniqueid)
        return self.update_caller_id(call, message)

    def update_caller_id(self, call: Call, message: AmiMessage) -> list[TrackerEvent]:
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
