"""From Asterisk's CEL records to the calls they describe, and to the call events a live ticket is made of.

Pure and synchronous: records in (from the CSV file or the ``cel`` table, see
:mod:`ngcc112.backfill.csv_source` and :mod:`ngcc112.backfill.pgsql_source`),
:class:`CelCall` summaries out, then :func:`call_events` turns one summary into
the same typed call events the AMI tracker emits (``CallArrived``,
``CallQueued``, ``OperatorRinging``, ``CallConnected``, ``CallAbandoned``,
``CallEnded``), so a recovered ticket is built by the very functions that build
a live one (:mod:`ngcc112.tickets.calls`) and its fields mean the same.

What the records say, as a real Asterisk 22.10.1 writes them for the shipped
dialplan (tests/data/cel/ holds recordings):

* ``CHAN_START`` of the channel whose Uniqueid is the Linkedid, in the 112
  context: the call arrived, with the caller's number and name. The name keeps
  PJSIP's SIP quoted-pairs (``Pak \\"Budi\\"``), with no AMI escaping on top.
* ``APP_START`` of ``Queue`` on that channel: queued (appdata: the queue first).
* ``CHAN_START`` of another channel of the call: a queue member (an operator's
  phone) being rung.
* ``BRIDGE_ENTER`` of the caller and of another channel into the same bridge
  (``extra``: ``{"bridge_id": …}``): answered, by that channel's phone.
* ``HANGUP`` of the caller's channel (``extra``: ``{"hangupcause": 16, …}``),
  then ``CHAN_END`` and ``LINKEDID_END``: the call is over.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ngcc112.ami import callerid
from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallEvent,
    CallQueued,
    OperatorRinging,
)
from ngcc112.ami.calls import member_interface

#: The CEL events the backfill reads (cel.conf logs a few more, for people).
EVENTS = frozenset({"CHAN_START", "APP_START", "BRIDGE_ENTER", "HANGUP", "CHAN_END", "LINKEDID_END"})

#: A call with no end in the records after this long is taken as over (Asterisk
#: stopped without logging the hang-up): no 112 call lasts half a day.
OPEN_CALL_LIMIT = timedelta(hours=12)

#: Asterisk's hang-up cause texts (main/channel.c ``causes[]``, ast_cause2str), so a
#: recovered ticket's ``hangup_cause_text`` reads like a live one's (AMI ``Cause-txt``).
CAUSE_TEXT: dict[int, str] = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    2: "No route to specified transmit network",
    3: "No route to destination",
    5: "Misdialed trunk prefix",
    6: "Channel unacceptable",
    7: "Call awarded and being delivered in an established channel",
    8: "Pre-empted",
    14: "Number ported elsewhere",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    20: "Subscriber absent",
    21: "Call Rejected",
    22: "Number changed",
    23: "Redirected to new destination",
    26: "Answered elsewhere",
    27: "Destination out of order",
    28: "Invalid number format",
    29: "Facility rejected",
    30: "Response to STATus ENQuiry",
    31: "Normal, unspecified",
    34: "Circuit/channel congestion",
    38: "Network out of order",
    41: "Temporary failure",
    42: "Switching equipment congestion",
    43: "Access information discarded",
    44: "Requested channel not available",
    50: "Facility not subscribed",
    52: "Outgoing call barred",
    54: "Incoming call barred",
    57: "Bearer capability not authorized",
    58: "Bearer capability not available",
    65: "Bearer capability not implemented",
    66: "Channel not implemented",
    69: "Facility not implemented",
    81: "Invalid call reference value",
    88: "Incompatible destination",
    95: "Invalid message unspecified",
    96: "Mandatory information element is missing",
    97: "Message type nonexist.",
    98: "Wrong message",
    99: "Info. element nonexist or not implemented",
    100: "Invalid information element contents",
    101: "Message not compatible with call state",
    102: "Recover on timer expiry",
    103: "Mandatory IE length error",
    111: "Protocol error, unspecified",
    127: "Interworking, unspecified",
}


@dataclass(frozen=True, slots=True)
class CelRecord:
    """One CEL record, whichever backend wrote it. Strings as Asterisk holds them."""

    #: Where the record is in its source (a byte offset, a row id): reading resumes from such a place.
    position: int
    event: str
    at: datetime
    uniqueid: str
    linkedid: str
    channel: str
    context: str
    exten: str
    cid_num: str
    cid_name: str
    appname: str = ""
    appdata: str = ""
    peer: str = ""
    extra: str = ""

    def extra_json(self) -> dict[str, object]:
        try:
            value = json.loads(self.extra) if self.extra else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


def caller_number(value: str) -> str | None:
    """The number as the live path shows it (CEL has no AMI escaping to undo)."""
    return None if value in callerid.UNKNOWN else value


def caller_name(value: str, channel: str) -> str | None:
    """The name as the live path shows it: PJSIP's kept SIP quoted-pairs undone once."""
    if value in callerid.UNKNOWN:
        return None
    name = callerid.sip_unquote(value) if channel.upper().startswith("PJSIP/") else value
    return name or None


@dataclass(slots=True)
class CelCall:
    """What the records tell of one call (one Linkedid)."""

    linkedid: str
    #: Position of the call's first record read (reading resumes here while the call goes on).
    first_position: int
    arrived_at: datetime | None = None
    channel: str = ""
    #: The caller's channel ran the 112 flow (a record of it in the 112 context).
    in_flow: bool = False
    exten: str = ""
    caller_number: str | None = None
    caller_name: str | None = None
    #: (time, queue) of every Queue() the caller entered.
    queued: list[tuple[datetime, str]] = field(default_factory=list)
    #: (time, interface) of every other channel of the call, before the answer.
    rung: list[tuple[datetime, str]] = field(default_factory=list)
    answered_at: datetime | None = None
    operator_interface: str | None = None
    ended_at: datetime | None = None
    cause: int | None = None
    #: Caller's HANGUP/CHAN_END or LINKEDID_END seen: nothing more will happen.
    over: bool = False
    last_at: datetime | None = None
    #: bridge id → Uniqueids that entered it; Uniqueid → channel name.
    _bridges: dict[str, set[str]] = field(default_factory=dict)
    _names: dict[str, str] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """The caller's channel started in what was read: the call can be told from its start."""
        return self.arrived_at is not None

    @property
    def is_112_call(self) -> bool:
        return self.complete and self.in_flow

    def stale(self, now: datetime) -> bool:
        """No end logged, and too old to be still going on."""
        return not self.over and self.arrived_at is not None and now - self.arrived_at > OPEN_CALL_LIMIT


class CallAssembler:
    """Feed records in the order they were written; read the calls at the end.

    Keeps a small summary per Linkedid, never the records, so a week of CEL
    costs memory per call, not per record.
    """

    def __init__(self, *, context: str, extensions: Iterable[str]) -> None:
        self._context = context
        self._extensions = frozenset(extensions)
        self.calls: dict[str, CelCall] = {}
        self.records = 0

    def feed(self, record: CelRecord) -> None:
        if record.event not in EVENTS or not record.linkedid:
            return
        self.records += 1
        call = self.calls.get(record.linkedid)
        if call is None:
            call = self.calls[record.linkedid] = CelCall(record.linkedid, record.position)
        call.last_at = record.at if call.last_at is None else max(call.last_at, record.at)
        if record.uniqueid and record.channel:
            call._names.setdefault(record.uniqueid, record.channel)
        is_caller = record.uniqueid == record.linkedid
        if is_caller:
            self._caller_record(call, record)
        elif record.event == "CHAN_START" and call.answered_at is None and record.context != self._context:
            call.rung.append((record.at, member_interface(record.channel)))
        if record.event == "BRIDGE_ENTER":
            self._bridge_enter(call, record)
        elif record.event == "LINKEDID_END":
            call.over = True
            if call.ended_at is None:
                call.ended_at = record.at

    def _caller_record(self, call: CelCall, record: CelRecord) -> None:
        if record.context == self._context:
            call.in_flow = True
            if call.exten not in self._extensions and record.exten:
                call.exten = record.exten
        number = caller_number(record.cid_num)
        name = caller_name(record.cid_name, record.channel)
        if record.event == "CHAN_START":
            call.arrived_at, call.channel = record.at, record.channel
            call.caller_number, call.caller_name = number, name
            return
        # caller ID updated later in the call (as NewCallerid would tell the live path)
        if number is not None or name is not None:
            call.caller_number = number or call.caller_number
            call.caller_name = name or call.caller_name
        if record.event == "APP_START" and record.appname.lower() == "queue":
            call.queued.append((record.at, record.appdata.split(",")[0]))
        elif record.event in ("HANGUP", "CHAN_END"):
            call.over = True
            if call.ended_at is None:
                call.ended_at = record.at
            if record.event == "HANGUP":
                cause = record.extra_json().get("hangupcause")
                call.cause = cause if isinstance(cause, int) else None

    def _bridge_enter(self, call: CelCall, record: CelRecord) -> None:
        bridge = str(record.extra_json().get("bridge_id") or "")
        if not bridge:
            return
        members = call._bridges.setdefault(bridge, set())
        members.add(record.uniqueid)
        if call.answered_at is not None or call.linkedid not in members:
            return
        others = sorted(u for u in members if u != call.linkedid)
        if others:
            call.answered_at = record.at
            call.operator_interface = member_interface(call._names.get(others[0], ""))


def call_events(call: CelCall, call_id: str, *, now: datetime) -> list[CallEvent]:
    """The call events the live path would have written for this call, in order."""
    assert call.arrived_at is not None
    events: list[CallEvent] = [
        CallArrived(
            call_id=call_id,
            at=call.arrived_at,
            channel=call.channel,
            uniqueid=call.linkedid,
            caller_number=call.caller_number,
            caller_name=call.caller_name,
            exten=call.exten,
        )
    ]
    last_join: datetime | None = None
    queue = ""
    for at, name in call.queued:
        if call.answered_at is not None and at > call.answered_at:
            break
        last_join, queue = at, name
        events.append(CallQueued(call_id=call_id, at=at, queue=name, position=None, channel=call.channel))
    for at, interface in call.rung:
        events.append(OperatorRinging(call_id=call_id, at=at, queue=queue, interface=interface, member_name=""))
    ended_at = call.ended_at if call.over else (call.last_at or call.arrived_at)
    if call.answered_at is not None and call.operator_interface:
        waited = (call.answered_at - last_join).total_seconds() if last_join else None
        events.append(
            CallConnected(
                call_id=call_id,
                at=call.answered_at,
                queue=queue,
                interface=call.operator_interface,
                member_name="",
                waited_seconds=max(0.0, waited) if waited is not None else None,
            )
        )
    elif last_join is not None and ended_at is not None:
        # hung up while waiting in a queue (AMI would have said QueueCallerAbandon)
        events.append(
            CallAbandoned(
                call_id=call_id,
                at=ended_at,
                queue=queue,
                position=None,
                waited_seconds=max(0.0, (ended_at - last_join).total_seconds()),
            )
        )
    if call.over and call.ended_at is not None:
        cause = call.cause
        events.append(
            CallEnded(
                call_id=call_id,
                at=call.ended_at,
                cause=cause,
                cause_text=CAUSE_TEXT.get(cause, "") if cause is not None else "",
            )
        )
    elif call.stale(now):
        events.append(
            CallEnded(
                call_id=call_id,
                at=ended_at or call.arrived_at,
                cause=None,
                cause_text="no end in Asterisk's records",
                unobserved=True,
            )
        )
    return events
