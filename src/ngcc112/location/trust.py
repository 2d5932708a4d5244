"""Whether an automatic position may become a ticket's position on its own.

A position from the caller's network (SIP Geolocation, from the carrier over
our own trunk) is trusted. An AML position comes over the internet from
whoever posts it: it becomes the position without an operator only when its
sender authenticated and the fix is plausible for this call. Otherwise it is
still shown, as a candidate one click away, with the doubts that held it back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from ngcc112.location.fix import LocationFix

DoubtCode = Literal["unauthenticated", "future", "stale", "accuracy_unknown", "inaccurate", "before_call"]


@dataclass(frozen=True, slots=True)
class Doubt:
    """One reason an automatic fix waits for an operator: a code and a sentence."""

    code: DoubtCode
    text: str


@dataclass(frozen=True, slots=True)
class FixTrust:
    """The trust decision about one fix: no doubts, and it may be accepted on its own."""

    doubts: tuple[Doubt, ...] = ()

    @property
    def auto_accept(self) -> bool:
        return not self.doubts

    @property
    def codes(self) -> tuple[DoubtCode, ...]:
        return tuple(doubt.code for doubt in self.doubts)


#: The carrier's SIP position and an operator's own: nothing to doubt.
TRUSTED = FixTrust()


@dataclass(frozen=True, slots=True)
class FixLimits:
    """What makes an AML fix plausible (``[aml]`` settings; these are their defaults)."""

    max_accuracy_m: float = 1000.0
    max_age: timedelta = timedelta(seconds=600)
    future_skew: timedelta = timedelta(seconds=30)


def aml_trust(
    fix: LocationFix,
    *,
    authenticated: bool,
    received_at: datetime,
    not_before: datetime,
    limits: FixLimits,
) -> FixTrust:
    """Every doubt about an AML fix received at ``received_at`` for a call.

    ``not_before`` is the earliest moment that call could have been dialled
    (its arrival minus the matching window): a fix made, or a message
    received, before it was planted, not sent by the caller's handset.
    """
    doubts: list[Doubt] = []
    if not authenticated:
        doubts.append(Doubt("unauthenticated", "the sender did not prove who it is"))
    ahead = fix.time - received_at
    if ahead > limits.future_skew:
        doubts.append(Doubt("future", f"dated {_span(ahead)} after it was received"))
    age = received_at - fix.time
    if age > limits.max_age:
        doubts.append(Doubt("stale", f"{_span(age)} old when received (at most {_span(limits.max_age)})"))
    if fix.radius_m is None:
        doubts.append(Doubt("accuracy_unknown", "no accuracy given"))
    elif fix.radius_m > limits.max_accuracy_m:
        doubts.append(Doubt("inaccurate", f"accurate to {fix.radius_m:g} m only (at most {limits.max_accuracy_m:g} m)"))
    made_early, received_early = not_before - fix.time, not_before - received_at
    if max(made_early, received_early) > timedelta(0):
        what, early = ("received", received_early) if received_early >= made_early else ("made", made_early)
        doubts.append(Doubt("before_call", f"{what} {_span(early)} before the call was dialled"))
    return FixTrust(tuple(doubts))


def _span(delta: timedelta) -> str:
    seconds = abs(delta.total_seconds())
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
