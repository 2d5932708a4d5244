"""Typed call events: what the tracker reports about 112 calls and operators.

Immutable snapshots, never live tracker objects. ``call_id`` is the call's
Linkedid (prefixed with the server name when one is configured).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar
from datetime import datetime


@dataclass(frozen=True, slots=True)
class CallEvent:
    #: The stable name of the event kind in audit rows and the journal; each subclass sets
    #: its own, so renaming a class never changes stored data.
    kind: ClassVar[str] = ""
    call_id: str
    at: datetime


@dataclass(frozen=True, slots=True)
class CallArrived(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_arrived"
    channel: str
    uniqueid: str
    caller_number: str | None
    caller_name: str | None
    exten: str
    #: True when the call was found by a resync, not seen arriving.
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class CallerIdentified(CallEvent):
    """Caller ID became known or changed (NewCallerid, dialplan override)."""

    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "caller_identified"
    caller_number: str | None
    caller_name: str | None


@dataclass(frozen=True, slots=True)
class CallVariables(CallEvent):
    """NGCC_* channel variables set by the shipped dialplan (values unescaped)."""

    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_variables"
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_queued"
    queue: str
    position: int | None
    channel: str


@dataclass(frozen=True, slots=True)
class OperatorRinging(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "operator_ringing"
    queue: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class OperatorRingNoAnswer(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "operator_ring_no_answer"
    queue: str
    interface: str
    member_name: str
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class CallConnected(CallEvent):
    """An operator answered: only ``AgentConnect`` means this."""

    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_connected"
    queue: str
    interface: str
    member_name: str
    waited_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallAbandoned(CallEvent):
    """The caller left the queue before an operator answered."""

    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_abandoned"
    queue: str
    position: int | None
    waited_seconds: float | None


@dataclass(frozen=True, slots=True)
class CallWithdrawn(CallEvent):
    """The caller was taken out of the queue by ``QueueWithdrawCaller``, not by hanging up."""

    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_withdrawn"
    queue: str
    info: str


@dataclass(frozen=True, slots=True)
class CallerTalking(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "caller_talking"
    talking: bool
    #: ``ChannelTalkingStop``'s Duration (ms); None on start.
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class CallerDigit(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "caller_digit"
    digit: str
    duration_ms: int | None = None


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    #: The stable name of this event in audit rows and the journal (data: never rename).
    kind: ClassVar[str] = "call_ended"
    cause: int | None
    cause_text: str
    #: True when the end was inferred by a resync (it ended while we were away).
    unobserved: bool = False


@dataclass(frozen=True, slots=True)
class OperatorLegEnded:
    """The operator's leg of an answered call is over (``AgentComplete``): the operator hung up,
    the caller did, or the call was transferred. Not a call fact (the call may go on)."""

    call_id: str
    at: datetime
    queue: str
    interface: str
    #: Asterisk's ``Reason``: ``caller``, ``agent`` or ``transfer``.
    reason: str


@dataclass(frozen=True, slots=True)
class CallsResynced:
    """After a resync: the calls Asterisk still has. Anything else is over."""

    at: datetime
    live_call_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class MemberState:
    """A queue member (operator softphone) as Asterisk reports it."""

    at: datetime
    queue: str
    interface: str
    member_name: str
    #: False once the member left the queue.
    in_queue: bool
    paused: bool
    pause_reason: str
    #: AST_DEVICE_* number: 1 not in use, 2 in use, 5 unavailable, 6 ringing …
    status: int | None
    #: Epoch seconds of the member's last pause (``LastPause``; 0 or None: never / not reported).
    last_pause: float | None = None


@dataclass(frozen=True, slots=True)
class MembersResynced:
    """Every member of the watched queues, from ``QueueStatus`` after a (re)connect."""

    at: datetime
    members: tuple[MemberState, ...]


TrackerEvent = CallEvent | CallsResynced | MemberState | MembersResynced | OperatorLegEnded
