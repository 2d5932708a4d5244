"""After-call work: the timing rule that protects an operator's intake.

When an operator's leg of a call ends, that queue member is paused with the
reason :data:`WRAPUP_REASON`, so no new call rings while the intake is still
being written. The pause ends when the operator submits that call's intake, or
when ``limit`` seconds have passed (then the desk warns the operator).

Pure: no I/O, no clock reads. Every method takes ``now`` (epoch seconds, the
same scale as Asterisk's ``LastPause``) and returns the decisions for the caller
to carry out (:class:`Pause`, :class:`Resume`). Asterisk stays the truth: a
member who meanwhile chose a break (paused with another reason) or left the
queue is forgotten, never resumed; after a restart the rule is rebuilt from
``QueueStatus`` (:meth:`WrapUpRule.resync`), so nobody stays paused forever.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

#: The pause reason Asterisk carries while an operator does after-call work.
WRAPUP_REASON = "wrap-up"


@dataclass(frozen=True, slots=True)
class Pause:
    interface: str
    call_id: str


@dataclass(frozen=True, slots=True)
class Resume:
    interface: str
    #: True when the limit passed before the intake was submitted (the desk warns).
    expired: bool


Decision = Pause | Resume


@dataclass(frozen=True, slots=True)
class MemberFact:
    """What Asterisk says about one queue member (from an event or ``QueueStatus``)."""

    interface: str
    in_queue: bool
    paused: bool
    reason: str
    #: Epoch seconds of the member's last pause (``LastPause``), when known.
    last_pause: float | None = None


@dataclass(slots=True)
class WrapUp:
    interface: str
    #: The call whose intake ends the pause; None when adopted after a restart (any submit ends it).
    call_id: str | None
    deadline: float
    #: Asterisk confirmed the pause: from now on an unpause or another reason ends our claim.
    confirmed: bool = False


class WrapUpRule:
    def __init__(self, limit: float) -> None:
        if not limit > 0:
            raise ValueError("the wrap-up limit must be positive")
        self.limit = limit
        #: Calls answered by an operator: call id → interface.
        self._answered: dict[str, str] = {}
        self._active: dict[str, WrapUp] = {}
        #: Calls whose intake was submitted while they were still up.
        self._submitted: set[str] = set()
        #: The last fact Asterisk gave about each member.
        self._members: dict[str, MemberFact] = {}

    # facts in -------------------------------------------------------------------
    def call_connected(self, call_id: str, interface: str) -> list[Decision]:
        """An operator answered a call; a wrap-up still running for them is over."""
        self._answered[call_id] = interface
        self._active.pop(interface, None)
        return []

    def call_ended(self, call_id: str, now: float) -> list[Decision]:
        """The call is over: pause the operator who took it."""
        interface = self._answered.pop(call_id, None)
        if interface is None:
            return []
        if call_id in self._submitted:  # the intake was in before the call ended: nothing to protect
            self._submitted.discard(call_id)
            return []
        known = self._members.get(interface)
        if known is not None and (not known.in_queue or (known.paused and known.reason != WRAPUP_REASON)):
            return []  # on a break (chosen during the call) or out of the queue: leave them so
        self._active[interface] = WrapUp(interface, call_id, now + self.limit)
        return [Pause(interface, call_id)]

    def calls_live(self, live_call_ids: Iterable[str], now: float) -> list[Decision]:
        """After a resync: answered calls Asterisk no longer has ended while we were away."""
        live = set(live_call_ids)
        out: list[Decision] = []
        for call_id in [c for c in self._answered if c not in live]:
            out += self.call_ended(call_id, now)
        self._submitted &= live
        return out

    def intake_done(self, interface: str, call_id: str | None) -> list[Decision]:
        """The operator submitted a call's intake: resume them if it is the call they wrap up."""
        wrap = self._active.get(interface)
        if wrap is None and call_id is not None and self._answered.get(call_id) == interface:
            self._submitted.add(call_id)  # submitted while the caller is still on the line
            return []
        if wrap is None or (wrap.call_id is not None and call_id is not None and wrap.call_id != call_id):
            return []
        del self._active[interface]
        return [Resume(interface, expired=False)]

    def member(self, fact: MemberFact, now: float) -> list[Decision]:
        """Asterisk reported a member: confirm our pause, or forget it when the operator moved on."""
        self._members[fact.interface] = fact
        wrap = self._active.get(fact.interface)
        if wrap is None:
            return []
        if not fact.in_queue or (fact.paused and fact.reason != WRAPUP_REASON):
            del self._active[fact.interface]  # left the queue, or chose a break: not ours to undo
        elif fact.paused:
            wrap.confirmed = True
        elif wrap.confirmed:
            del self._active[fact.interface]  # resumed by hand (Ready): nothing left to do
        return []

    def resync(self, members: Iterable[MemberFact], now: float) -> list[Decision]:
        """Every member of the queue, after a (re)connect or a restart of the daemon.

        A member paused with the wrap-up reason whose pause is older than the limit is
        resumed at once; a newer one gets the rest of its time. Wrap-ups of members no
        longer paused for wrap-up are forgotten.
        """
        out: list[Decision] = []
        seen: set[str] = set()
        members = list(members)
        self._members = {fact.interface: fact for fact in members}
        for fact in members:
            seen.add(fact.interface)
            wrap = self._active.get(fact.interface)
            if not (fact.in_queue and fact.paused and fact.reason == WRAPUP_REASON):
                if wrap is not None and (wrap.confirmed or fact.paused or not fact.in_queue):
                    del self._active[fact.interface]
                continue
            if wrap is not None:
                wrap.confirmed = True
                continue
            started = fact.last_pause if fact.last_pause else now
            deadline = min(started, now) + self.limit
            if deadline <= now:
                out.append(Resume(fact.interface, expired=True))
            else:
                self._active[fact.interface] = WrapUp(fact.interface, None, deadline, confirmed=True)
        for interface in [i for i, w in self._active.items() if i not in seen and w.confirmed]:
            del self._active[interface]
        return out

    # time -----------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        return min((w.deadline for w in self._active.values()), default=None)

    def due(self, now: float) -> list[Decision]:
        """Resume every operator whose limit has passed."""
        out: list[Decision] = []
        for interface in [i for i, w in self._active.items() if w.deadline <= now]:
            del self._active[interface]
            out.append(Resume(interface, expired=True))
        return out

    # reads ----------------------------------------------------------------------
    def wrapping(self, interface: str) -> WrapUp | None:
        return self._active.get(interface)
