"""What a report holds: counts and sums only; every share and mean is derived from them.

Keeping the stored figures to counts and sums is what lets the CSV export parse
back to exactly the same report (see :mod:`ngcc112.reports.csv`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

#: The verdicts in report order; calls without one are ``unclassified``.
VERDICT_KEYS: tuple[str, ...] = ("normal", "ghost", "prank", "information", "unclassified")


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class StageStats:
    """One SLA stage over a set of tickets."""

    stage: str
    #: Seconds allowed; None: timed, not judged (``met`` is then 0).
    target: float | None
    measured: int
    met: int
    total_seconds: float
    max_seconds: float | None

    @property
    def mean_seconds(self) -> float | None:
        return self.total_seconds / self.measured if self.measured else None

    @property
    def compliance(self) -> float | None:
        """Share of measured tickets within target; None when not judged or nothing measured."""
        return None if self.target is None else _share(self.met, self.measured)


@dataclass(frozen=True, slots=True)
class AnswerShare:
    """Calls answered within ``threshold`` seconds of arrival, of the calls that count (see sla.py)."""

    threshold: float
    within: int
    counted: int

    @property
    def share(self) -> float | None:
        return _share(self.within, self.counted)


@dataclass(frozen=True, slots=True)
class Group:
    """The figures for one operator (key: queue member interface) or one day (key: ISO date)."""

    key: str
    calls: int
    answered: int
    abandoned: int
    stages: tuple[StageStats, ...]
    answer: tuple[AnswerShare, ...]


@dataclass(frozen=True, slots=True)
class Report:
    start: date
    end: date
    #: The IANA zone days and hours are counted in.
    timezone: str
    calls: int
    answered: int
    abandoned: int
    #: Abandoned before reaching the queue (hung up in the prompt).
    abandoned_before_queue: int
    #: Calls by hour of arrival, local time: index 0 is 00:00-00:59.
    calls_per_hour: tuple[int, ...]
    #: (verdict, calls) in :data:`VERDICT_KEYS` order.
    verdicts: tuple[tuple[str, int], ...]
    answer: tuple[AnswerShare, ...]
    stages: tuple[StageStats, ...]
    per_operator: tuple[Group, ...]
    per_day: tuple[Group, ...]
    #: The site the report is limited to (None: every site).
    site: str | None = None
    #: The calls of each site taken in the range, by site name (the page's and the JSON's; the
    #: CSV does not carry it yet, so a report read back from CSV compares equal without it).
    per_site: tuple[Group, ...] = field(default=(), compare=False)

    def verdict_share(self, verdict: str) -> float | None:
        return _share(dict(self.verdicts)[verdict], self.calls)

    @property
    def abandoned_share(self) -> float | None:
        return _share(self.abandoned, self.calls)
