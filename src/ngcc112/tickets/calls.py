"""How call events change a ticket: pure functions over a :class:`Ticket` row.

Each returns the fields it changed (for the audit row and the live update);
applying the same event twice changes nothing the second time, so replays and
resyncs are harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ngcc112 import names
from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerDigit,
    CallerIdentified,
    CallerTalking,
    CallEvent,
    CallQueued,
    CallVariables,
    CallWithdrawn,
    OperatorRingNoAnswer,
    OperatorRinging,
)
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.states import State

Changes = dict[str, Any]


def _set(ticket: Ticket, changes: Changes, **values: Any) -> None:
    for key, value in values.items():
        if getattr(ticket, key) != value:
            setattr(ticket, key, value)
            changes[key] = value


def _set_once(ticket: Ticket, changes: Changes, **values: Any) -> None:
    for key, value in values.items():
        if getattr(ticket, key) is None and value is not None:
            setattr(ticket, key, value)
            changes[key] = value


def new_ticket(event: CallEvent, site: str = names.DEFAULT_SITE) -> Ticket:
    """The ticket for a call first seen through ``event`` (usually CallArrived) at ``site``."""
    ticket = Ticket(
        linkedid=event.call_id,
        site=site,
        state=State.NEW.value,
        arrived_at=event.at,
        variables={},
        score_reasons=[],
        intake={},
        abandoned=False,
        withdrawn=False,
        ended_unobserved=False,
    )
    if isinstance(event, CallArrived):
        ticket.caller_number = event.caller_number
        ticket.caller_name = event.caller_name
        ticket.channel = event.channel
        ticket.exten = event.exten
        category = names.EMERGENCY_NUMBERS.get(event.exten or "")
        ticket.category = category or None
    return ticket


def apply(ticket: Ticket, event: CallEvent) -> Changes:
    """Apply one call event; return what changed ({} when nothing did)."""
    changes: Changes = {}
    handler = _HANDLERS.get(type(event))
    if handler is not None:
        handler(ticket, event, changes)
    return changes


def _arrived(ticket: Ticket, event: CallArrived, changes: Changes) -> None:
    if event.at < ticket.arrived_at:
        _set(ticket, changes, arrived_at=event.at)
    _set_once(
        ticket,
        changes,
        channel=event.channel,
        exten=event.exten,
        caller_number=event.caller_number,
        caller_name=event.caller_name,
    )


def _identified(ticket: Ticket, event: CallerIdentified, changes: Changes) -> None:
    _set(ticket, changes, caller_number=event.caller_number, caller_name=event.caller_name)


def _variables(ticket: Ticket, event: CallVariables, changes: Changes) -> None:
    merged = dict(ticket.variables or {})
    fresh = {k: v for k, v in event.variables.items() if merged.get(k) != v}
    if not fresh:
        return
    merged.update(fresh)
    ticket.variables = merged
    changes["variables"] = fresh
    if names.VAR_CID_PRES in fresh:
        _set(ticket, changes, caller_presentation=fresh[names.VAR_CID_PRES] or None)
    if fresh.get(names.VAR_CATEGORY):
        _set_once(ticket, changes, category=fresh[names.VAR_CATEGORY])
    if fresh.get(names.VAR_SILENT_DIGIT):
        _set_once(ticket, changes, silent_digit=fresh[names.VAR_SILENT_DIGIT], silent_digit_at=event.at)


def _queued(ticket: Ticket, event: CallQueued, changes: Changes) -> None:
    _set_once(ticket, changes, queued_at=event.at)
    _set(ticket, changes, queue=event.queue, queue_position=event.position)
    if event.channel:
        _set(ticket, changes, channel=event.channel)
    if ticket.abandoned and ticket.ended_at is None:
        # left one queue for the next (60 s overflow, withdraw): still waiting, not a callback yet
        _set(ticket, changes, abandoned=False, abandoned_at=None)


def _ringing(ticket: Ticket, event: OperatorRinging, changes: Changes) -> None:
    _set_once(ticket, changes, ringing_at=event.at)
    _set(ticket, changes, ringing_interface=event.interface)


def _ring_no_answer(ticket: Ticket, event: OperatorRingNoAnswer, changes: Changes) -> None:
    if ticket.ringing_interface == event.interface and ticket.answered_at is None:
        _set(ticket, changes, ringing_interface=None)


def _connected(ticket: Ticket, event: CallConnected, changes: Changes) -> None:
    _set_once(
        ticket,
        changes,
        answered_at=event.at,
        operator_interface=event.interface,
        operator_name=event.member_name or None,
        waited_seconds=event.waited_seconds,
    )
    if ticket.state == State.NEW.value:
        _set(ticket, changes, state=State.IN_CALL.value)
    if ticket.abandoned and ticket.answered_at is not None:
        _set(ticket, changes, abandoned=False, abandoned_at=None)


def _abandoned(ticket: Ticket, event: CallAbandoned, changes: Changes) -> None:
    if ticket.answered_at is not None:
        return
    _set(ticket, changes, abandoned=True)
    _set_once(ticket, changes, abandoned_at=event.at, waited_seconds=event.waited_seconds)
    if event.position is not None:
        _set(ticket, changes, queue_position=event.position)


def _withdrawn(ticket: Ticket, event: CallWithdrawn, changes: Changes) -> None:
    # Asterisk reports a withdraw as QueueCallerAbandon first; the caller did not give up
    _set(ticket, changes, withdrawn=True)
    if ticket.ended_at is None:
        _set(ticket, changes, abandoned=False, abandoned_at=None)


def _talking(ticket: Ticket, event: CallerTalking, changes: Changes) -> None:
    if event.talking:
        _set_once(ticket, changes, caller_talked_at=event.at)


def _digit(ticket: Ticket, event: CallerDigit, changes: Changes) -> None:
    _set_once(ticket, changes, silent_digit=event.digit, silent_digit_at=event.at)


def _ended(ticket: Ticket, event: CallEnded, changes: Changes) -> None:
    if ticket.ended_at is not None:
        return
    _set(
        ticket,
        changes,
        ended_at=event.at,
        hangup_cause=event.cause,
        hangup_cause_text=event.cause_text or None,
        ended_unobserved=event.unobserved,
    )
    if ticket.answered_at is None:
        # Nobody answered: the caller hung up in the prompt or in the queue. Call back.
        _set(ticket, changes, abandoned=True)
        _set_once(ticket, changes, abandoned_at=event.at)


_HANDLERS: dict[type, Callable[[Ticket, Any, Changes], None]] = {
    CallArrived: _arrived,
    CallerIdentified: _identified,
    CallVariables: _variables,
    CallQueued: _queued,
    OperatorRinging: _ringing,
    OperatorRingNoAnswer: _ring_no_answer,
    CallConnected: _connected,
    CallAbandoned: _abandoned,
    CallWithdrawn: _withdrawn,
    CallerTalking: _talking,
    CallerDigit: _digit,
    CallEnded: _ended,
}
