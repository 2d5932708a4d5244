"""SLA clocks: how long each step of a ticket took, against the SOP's time targets. Pure functions.

The steps, each from one timestamp to the next:

==================  ==========================================  =====================
stage               from → to                                   SOP target (default)
==================  ==========================================  =====================
``queue_wait``      queued → answered                           (answer-time shares)
``intake``          answered → classified                       60 s ("incoming call")
``classification``  classified → escalated, or → closed for     60 s ("recording a
                    a call never escalated (ghost, prank,       ghost/prank report and
                    information): recording the report          an emergency report")
``dispatch``        escalated → dispatched                      none in the SOP
``field_handling``  dispatched → reported                       none ("no time given")
``closing``         reported → closed (Close Ticket)            30 s ("call completion")
==================  ==========================================  =====================

A stage is measured only when both of its timestamps exist; a target of
``None`` means the stage is timed but not judged.

Two more targets judge each agency's dispatch on the dispatcher board (the SOP gives the
coordination with the OPD / agency no time, so these are the center's own choice):

==================  ==========================================  =====================
target              from → to                                   default
==================  ==========================================  =====================
``acknowledge``     sent to the agency → acknowledged by it     120 s
``arrival``         sent to the agency → the agency on scene    900 s (15 minutes)
==================  ==========================================  =====================

Answer time is measured from the call's **arrival** (the moment Asterisk
answered it into the 112 flow), not from joining the queue: that is what the
caller lives through — the silent-call prompt included — and what the usual
call-answering standards (e.g. 90 % within 15 s, 95 % within 20 s) count, from
the call reaching the answering point. The share answered within T seconds is
``answered within T / (answered + abandoned after waiting more than T)``: a
caller who hung up before T seconds could not have been answered in time and
counts neither way (a mis-dial hung up in 3 s is not a failure), one who waited
longer and gave up counts as a miss. Calls still waiting are not counted yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any


class Stage(StrEnum):
    QUEUE_WAIT = "queue_wait"
    INTAKE = "intake"
    CLASSIFICATION = "classification"
    DISPATCH = "dispatch"
    FIELD_HANDLING = "field_handling"
    CLOSING = "closing"


#: The stages in the order a ticket goes through them.
STAGES: tuple[Stage, ...] = tuple(Stage)


class SlaTargetsError(ValueError):
    """A target that cannot be used; the message names it."""


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """Seconds allowed per stage (``None``: timed, not judged) and the answer-time thresholds."""

    queue_wait: float | None = None
    intake: float | None = 60.0
    classification: float | None = 60.0
    dispatch: float | None = None
    field_handling: float | None = None
    closing: float | None = 30.0
    #: An agency's dispatch: sent → acknowledged (seconds).
    acknowledge: float | None = 120.0
    #: An agency's dispatch: sent → on scene (seconds).
    arrival: float | None = 900.0
    answer_thresholds: tuple[float, ...] = (10.0, 15.0, 20.0)

    def target(self, stage: Stage | str) -> float | None:
        seconds: float | None = getattr(self, Stage(stage).value)
        return seconds

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SlaTargets:
        """Targets from configuration (e.g. a TOML ``[sla]`` table); unknown keys and bad numbers refused.

        A stage given as ``0``, ``false`` or ``"none"`` is timed but not judged.
        """
        known = {f.name for f in fields(cls)}
        result = cls()
        for key, value in values.items():
            if key not in known:
                raise SlaTargetsError(f"unknown SLA target {key!r}; known: {', '.join(sorted(known))}")
            if key == "answer_thresholds":
                items = value.split(",") if isinstance(value, str) else value
                if not isinstance(items, (list, tuple)):
                    raise SlaTargetsError(f"{key} must be a list of seconds, got {value!r}")
                seconds = {_seconds(key, item) for item in items}
                if not seconds or None in seconds:
                    raise SlaTargetsError(f"{key} must be a list of positive seconds, got {value!r}")
                result = replace(result, answer_thresholds=tuple(sorted(s for s in seconds if s is not None)))
            else:
                stage: dict[str, Any] = {key: _seconds(key, value)}  # one stage's seconds, by field name
                result = replace(result, **stage)
        return result


def _seconds(key: str, value: Any) -> float | None:
    if value is None or value is False or (isinstance(value, str) and value.strip().lower() in ("none", "")):
        return None
    if isinstance(value, bool):
        raise SlaTargetsError(f"{key} must be seconds, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SlaTargetsError(f"{key} must be seconds, got {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise SlaTargetsError(f"{key} must be a positive number of seconds, got {value!r}")
    return number or None


DEFAULT_TARGETS = SlaTargets()


@dataclass(frozen=True, slots=True)
class Milestones:
    """The moments of one ticket that the clocks need (all aware UTC; None when not reached)."""

    arrived_at: datetime
    queued_at: datetime | None = None
    answered_at: datetime | None = None
    classified_at: datetime | None = None
    escalated_at: datetime | None = None
    dispatched_at: datetime | None = None
    reported_at: datetime | None = None
    closed_at: datetime | None = None
    abandoned: bool = False
    #: When the caller gave up (abandoned_at, else the end of the call).
    abandoned_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StageTiming:
    stage: Stage
    seconds: float | None
    target: float | None

    @property
    def measured(self) -> bool:
        return self.seconds is not None

    @property
    def met(self) -> bool | None:
        """True/False against the target; None when not measured or not judged."""
        if self.seconds is None or self.target is None:
            return None
        return self.seconds <= self.target


def _between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def stage_seconds(m: Milestones, stage: Stage | str) -> float | None:
    """How long one stage took, or None when it has not (or never) happened."""
    stage = Stage(stage)
    if stage is Stage.QUEUE_WAIT:
        return _between(m.queued_at, m.answered_at)
    if stage is Stage.INTAKE:
        return _between(m.answered_at, m.classified_at)
    if stage is Stage.CLASSIFICATION:
        return _between(m.classified_at, m.escalated_at if m.escalated_at is not None else m.closed_at)
    if stage is Stage.DISPATCH:
        return _between(m.escalated_at, m.dispatched_at)
    if stage is Stage.FIELD_HANDLING:
        return _between(m.dispatched_at, m.reported_at)
    return _between(m.reported_at, m.closed_at)


def stage_timings(m: Milestones, targets: SlaTargets = DEFAULT_TARGETS) -> tuple[StageTiming, ...]:
    """Every stage of one ticket, timed and judged."""
    return tuple(StageTiming(stage, stage_seconds(m, stage), targets.target(stage)) for stage in STAGES)


def answer_seconds(m: Milestones) -> float | None:
    """Arrival → answered by an operator; None when nobody answered."""
    return _between(m.arrived_at, m.answered_at)


def answered_within(m: Milestones, threshold: float) -> bool | None:
    """Whether the call counts as answered within ``threshold`` seconds of arrival.

    None when the call does not count for this threshold: abandoned within it,
    or still waiting (see the module's note).
    """
    waited = answer_seconds(m)
    if waited is not None:
        return waited <= threshold
    gave_up = _between(m.arrived_at, m.abandoned_at) if m.abandoned else None
    if gave_up is None:
        return None
    return False if gave_up > threshold else None
