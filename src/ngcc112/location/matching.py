"""Attaching a position to its call, and never losing an accepted one.

An AML message arrives on its own channel (HTTPS or SMS), usually seconds
after the call starts, sometimes after it ended: it is matched to the call by
number and time. An automatic fix never silently replaces a position an
operator has accepted; it waits beside it as a candidate, one click away. It
becomes the position on its own only when the ticket has none yet and the
trust decision (:mod:`ngcc112.location.trust`) has no doubt about it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ngcc112.location.fix import LocationFix
from ngcc112.location.numbers import canonical_number
from ngcc112.location.trust import FixTrust

#: How long before a call's arrival a fix may date from (the handset starts
#: positioning when 112 is dialled, before the network delivers the call).
WINDOW_BEFORE = timedelta(seconds=30)
#: How long after a call ended a fix may still be attached to it.
WINDOW_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class CallRef:
    """A live or recent call: its ticket, number, arrival, and end (None while live)."""

    ticket_id: int
    number: str
    arrived_at: datetime
    ended_at: datetime | None = None


def match_call(
    fix_time: datetime,
    number: str,
    calls: Iterable[CallRef],
    window_before: timedelta = WINDOW_BEFORE,
    window_after: timedelta = WINDOW_AFTER,
) -> CallRef | None:
    """The call from ``number`` a fix made at ``fix_time`` belongs to, or None.

    A call's window runs from ``arrived_at - window_before`` to
    ``ended_at + window_after``, borders included; a live call's window has no
    end. Numbers are compared in canonical form (``+62…`` = ``0…`` = ``62…``);
    a fix without a usable number is never matched. Of several calls, the one
    whose own span (arrival to end) is closest to ``fix_time`` wins; on a tie,
    the latest arrival.
    """
    wanted = canonical_number(number)
    if not wanted:
        return None
    inside = [
        call
        for call in calls
        if canonical_number(call.number) == wanted
        and call.arrived_at - window_before <= fix_time
        and (call.ended_at is None or fix_time <= call.ended_at + window_after)
    ]
    if not inside:
        return None
    return min(inside, key=lambda call: (_distance(fix_time, call), -call.arrived_at.timestamp()))


def _distance(moment: datetime, call: CallRef) -> timedelta:
    if moment < call.arrived_at:
        return call.arrived_at - moment
    if call.ended_at is not None and moment > call.ended_at:
        return moment - call.ended_at
    return timedelta(0)


FixOutcome = Literal["accepted", "candidate", "duplicate", "unchanged"]


@dataclass(frozen=True, slots=True)
class FixDecision:
    """Where a new fix went.

    ``accepted`` is the position the ticket shows; ``candidates`` the automatic
    fixes waiting for an operator's one-click acceptance, newest last;
    ``outcome`` what happened to the new (or chosen) fix.
    """

    accepted: LocationFix | None
    candidates: tuple[LocationFix, ...]
    outcome: FixOutcome


def decide_fix(
    current_accepted: LocationFix | None,
    candidates: Iterable[LocationFix],
    new: LocationFix,
    *,
    trust: FixTrust,
) -> FixDecision:
    """Take a new fix into a ticket's location without losing anything.

    * a ``manual`` fix is the operator's own decision: it becomes the accepted
      one, and a replaced automatic fix stays among the candidates;
    * an automatic fix (SIP, AML) is accepted only when there is no accepted
      position yet and ``trust`` has no doubt about it; otherwise it is added
      as a candidate, never silently replacing what an operator sees;
    * the same report again (same source, position, radius and time) changes nothing.
    """
    pending = tuple(candidates)
    known = (*pending, *((current_accepted,) if current_accepted is not None else ()))
    if any(new.same_position(fix) for fix in known):
        return FixDecision(current_accepted, pending, "duplicate")
    if new.source == "manual":
        kept = pending
        if current_accepted is not None and current_accepted.is_automatic:
            kept = (*pending, current_accepted)
        return FixDecision(new, kept, "accepted")
    if current_accepted is None and trust.auto_accept:
        return FixDecision(new, pending, "accepted")
    return FixDecision(current_accepted, (*pending, new), "candidate")


def accept_candidate(
    current_accepted: LocationFix | None,
    candidates: Iterable[LocationFix],
    chosen: LocationFix,
) -> FixDecision:
    """The operator's one click: ``chosen`` (a candidate) becomes the accepted fix.

    The previously accepted automatic fix goes back among the candidates, so
    nothing is lost. Choosing something that is not (or no longer) a candidate
    changes nothing: outcome ``unchanged``.
    """
    pending = tuple(candidates)
    if chosen not in pending:
        return FixDecision(current_accepted, pending, "unchanged")
    rest = tuple(fix for fix in pending if fix != chosen)
    if current_accepted is not None and current_accepted.is_automatic:
        rest = (*rest, current_accepted)
    return FixDecision(chosen, rest, "accepted")
