"""Which call each operator's softphone is ringing for or talking on, from the hub's call events.

A small in-memory board, keyed by queue member interface. A ringing call goes
when it is answered (here or elsewhere), not answered, or over. An answered
call stays as the operator's *active* call after the caller hangs up, until
its intake is finished (the ticket leaves ``in_call`` / ``classified``); after
escalation it stays while the caller is still on the line. An answered
callback on an abandoned call becomes the active call of whoever called back, for its intake.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerIdentified,
    CallsResynced,
    OperatorRinging,
    OperatorRingNoAnswer,
)
from ngcc112.tickets.states import State
from ngcc112.tickets.store import TicketChanged

#: Ticket states in which the operator is still taking the call's intake.
INTAKE_STATES = frozenset({State.NEW.value, State.IN_CALL.value, State.CLASSIFIED.value})
#: Ticket states in which a call still on the line stays on the desk (the caller can add details).
FOLLOWUP_STATES = frozenset({State.ESCALATED.value, State.DISPATCHED.value, State.ON_SCENE.value, State.REPORTED.value})


@dataclass(frozen=True, slots=True)
class OperatorCall:
    call_id: str
    interface: str
    #: "ringing" or "connected".
    phase: str
    at: datetime
    ended: bool = False


@dataclass(frozen=True, slots=True)
class DeskState:
    ringing: OperatorCall | None = None
    active: OperatorCall | None = None


CallEventIn = (
    OperatorRinging | OperatorRingNoAnswer | CallConnected | CallEnded | CallAbandoned | CallsResynced | TicketChanged
)


#: Caller IDs remembered for live calls (a screen-pop must show the number even when the
#: database is slow or away and the ticket is not written yet).
CALLER_MEMORY = 1000


class CallBoard:
    def __init__(self) -> None:
        self._desks: dict[str, DeskState] = {}
        self._callers: OrderedDict[str, tuple[str | None, str | None]] = OrderedDict()

    def caller(self, call_id: str) -> tuple[str | None, str | None]:
        """(number, name) as the call events reported them, or (None, None)."""
        return self._callers.get(call_id, (None, None))

    def _remember(self, call_id: str, number: str | None, name: str | None) -> None:
        self._callers[call_id] = (number, name)
        self._callers.move_to_end(call_id)
        while len(self._callers) > CALLER_MEMORY:
            self._callers.popitem(last=False)

    def desk(self, interface: str | None) -> DeskState:
        return self._desks.get(interface or "", DeskState())

    def _set(self, interface: str, desk: DeskState, changed: set[str]) -> None:
        if self._desks.get(interface, DeskState()) == desk:
            return
        if desk == DeskState():
            self._desks.pop(interface, None)
        else:
            self._desks[interface] = desk
        changed.add(interface)

    def apply(self, event: object) -> set[str]:
        """Apply one hub item; return the interfaces whose desk changed."""
        changed: set[str] = set()
        if isinstance(event, (CallArrived, CallerIdentified)):
            self._remember(event.call_id, event.caller_number, event.caller_name)
        elif isinstance(event, OperatorRinging):
            desk = self.desk(event.interface)
            if desk.active is None or desk.active.call_id != event.call_id:
                self._set(
                    event.interface,
                    replace(desk, ringing=OperatorCall(event.call_id, event.interface, "ringing", event.at)),
                    changed,
                )
        elif isinstance(event, OperatorRingNoAnswer):
            desk = self.desk(event.interface)
            if desk.ringing is not None and desk.ringing.call_id == event.call_id:
                self._set(event.interface, replace(desk, ringing=None), changed)
        elif isinstance(event, CallConnected):
            for interface, desk in list(self._desks.items()):
                if interface != event.interface and desk.ringing is not None and desk.ringing.call_id == event.call_id:
                    self._set(interface, replace(desk, ringing=None), changed)
            desk = self.desk(event.interface)
            ringing = desk.ringing if desk.ringing and desk.ringing.call_id != event.call_id else None
            self._set(
                event.interface,
                DeskState(ringing=ringing, active=OperatorCall(event.call_id, event.interface, "connected", event.at)),
                changed,
            )
        elif isinstance(event, (CallEnded, CallAbandoned)):
            for interface, desk in list(self._desks.items()):
                new = desk
                if desk.ringing is not None and desk.ringing.call_id == event.call_id:
                    new = replace(new, ringing=None)
                if (
                    isinstance(event, CallEnded)
                    and desk.active is not None
                    and desk.active.call_id == event.call_id
                    and not desk.active.ended
                ):
                    new = replace(new, active=replace(desk.active, ended=True))
                self._set(interface, new, changed)
        elif isinstance(event, CallsResynced):
            for interface, desk in list(self._desks.items()):
                new = desk
                if desk.ringing is not None and desk.ringing.call_id not in event.live_call_ids:
                    new = replace(new, ringing=None)
                if desk.active is not None and desk.active.call_id not in event.live_call_ids:
                    new = replace(new, active=replace(desk.active, ended=True))
                self._set(interface, new, changed)
        elif (
            isinstance(event, TicketChanged)
            and event.action == "callback_result"
            and event.changes.get("intake_opened")
            and event.state in INTAKE_STATES
        ):
            # An answered callback: the abandoned call's intake pops on the desk of who called back.
            interface = str(event.changes.get("interface") or "")
            if interface:
                desk = self.desk(interface)
                self._set(
                    interface,
                    replace(desk, active=OperatorCall(event.linkedid, interface, "connected", event.at)),
                    changed,
                )
        elif (
            isinstance(event, TicketChanged)
            and event.action == "callback_outcome"
            and event.changes.get("outcome") in ("no_answer", "dismissed")
        ):
            # Nobody to take an intake from: the desk is free again (a no answer may be called again).
            for interface, desk in list(self._desks.items()):
                if desk.active is not None and desk.active.call_id == event.linkedid:
                    self._set(interface, replace(desk, active=None), changed)
        elif isinstance(event, TicketChanged) and event.state not in INTAKE_STATES:
            for interface, desk in list(self._desks.items()):
                # an escalated call whose caller is still on the line stays (caller card, notes)
                if (
                    desk.active is not None
                    and desk.active.call_id == event.linkedid
                    and (desk.active.ended or event.state not in FOLLOWUP_STATES)
                ):
                    self._set(interface, replace(desk, active=None), changed)
                elif desk.active is not None and desk.active.call_id == event.linkedid:
                    changed.add(interface)
        return changed

    def interfaces_for(self, call_id: str) -> set[str]:
        return {
            interface
            for interface, desk in self._desks.items()
            if (desk.ringing and desk.ringing.call_id == call_id) or (desk.active and desk.active.call_id == call_id)
        }

    def clear_active(self, interface: str, call_id: str) -> bool:
        desk = self.desk(interface)
        if desk.active is None or desk.active.call_id != call_id:
            return False
        changed: set[str] = set()
        self._set(interface, replace(desk, active=None), changed)
        return bool(changed)
