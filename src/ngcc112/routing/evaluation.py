"""How well the heuristics sort labelled calls: precision, recall, confusion table.

Feed it ``(true_type, assessment)`` pairs (from simulator scenarios, or from
calls operators have classified) to tune :class:`~ngcc112.routing.policy.Policy`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from ngcc112.routing.policy import Policy
from ngcc112.routing.scoring import Assessment

CallType = Literal["normal", "ghost", "prank"]
CALL_TYPES: tuple[CallType, ...] = ("normal", "ghost", "prank")


def classify(assessment: Assessment, policy: Policy) -> CallType:
    """The type the heuristics predict for one call.

    A likely-real call (digit 5, genuine history) is ``normal`` whatever its
    scores. Otherwise the higher of the scores that reach their threshold wins
    (prank on a tie: it is the one that lowers priority, so the stricter test);
    below both thresholds the call is ``normal``.
    """
    if assessment.likely_real:
        return "normal"
    ghost = assessment.ghost.value >= policy.ghost_threshold
    prank = assessment.prank.value >= policy.prank_threshold
    if ghost and prank:
        return "ghost" if assessment.ghost.value > assessment.prank.value else "prank"
    if prank:
        return "prank"
    if ghost:
        return "ghost"
    return "normal"


@dataclass(frozen=True, slots=True)
class TypeStats:
    """One call type's figures. Precision is None when nothing was predicted as
    that type, recall None when no call truly was (undefined, not zero)."""

    call_type: CallType
    support: int
    predicted: int
    correct: int

    @property
    def precision(self) -> float | None:
        return self.correct / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.correct / self.support if self.support else None


@dataclass(frozen=True, slots=True)
class EvaluationReport:
    #: ``confusion[(true_type, predicted_type)]`` = number of calls, every pair present.
    confusion: Mapping[tuple[CallType, CallType], int]
    per_type: tuple[TypeStats, ...]
    total: int

    @property
    def accuracy(self) -> float | None:
        if not self.total:
            return None
        return sum(self.confusion[(t, t)] for t in CALL_TYPES) / self.total

    def stats(self, call_type: CallType) -> TypeStats:
        return next(s for s in self.per_type if s.call_type == call_type)


def evaluate(cases: Iterable[tuple[str, Assessment]], policy: Policy) -> EvaluationReport:
    """Compare each case's true type with :func:`classify`.

    True types are ``normal``, ``ghost`` or ``prank``; anything else (e.g. an
    ``information`` label, which should be mapped to ``normal`` first) is
    refused with ValueError naming the case.
    """
    confusion: dict[tuple[CallType, CallType], int] = {(t, p): 0 for t in CALL_TYPES for p in CALL_TYPES}
    total = 0
    for index, (true_type, assessment) in enumerate(cases):
        confusion[(_call_type(true_type, index), classify(assessment, policy))] += 1
        total += 1
    per_type = tuple(
        TypeStats(
            call_type=t,
            support=sum(confusion[(t, p)] for p in CALL_TYPES),
            predicted=sum(confusion[(x, t)] for x in CALL_TYPES),
            correct=confusion[(t, t)],
        )
        for t in CALL_TYPES
    )
    return EvaluationReport(confusion=confusion, per_type=per_type, total=total)


def _call_type(value: str, index: int) -> CallType:
    for call_type in CALL_TYPES:
        if value == call_type:
            return call_type
    raise ValueError(f"case {index}: true type must be one of {CALL_TYPES}, got {value!r}")


def render(report: EvaluationReport) -> str:
    """A plain-text table: per-type precision/recall, then the confusion table."""

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value * 100:.1f}%"

    width = max(len(t) for t in CALL_TYPES) + 2
    lines = [
        f"{report.total} calls, accuracy {pct(report.accuracy)}",
        "",
        f"{'type':<{width}}{'precision':>10}{'recall':>10}{'calls':>8}{'predicted':>11}",
    ]
    for s in report.per_type:
        lines.append(f"{s.call_type:<{width}}{pct(s.precision):>10}{pct(s.recall):>10}{s.support:>8}{s.predicted:>11}")
    lines += ["", "true \\ predicted".ljust(18) + "".join(f"{p:>8}" for p in CALL_TYPES)]
    for t in CALL_TYPES:
        lines.append(t.ljust(18) + "".join(f"{report.confusion[(t, p)]:>8}" for p in CALL_TYPES))
    return "\n".join(lines) + "\n"
