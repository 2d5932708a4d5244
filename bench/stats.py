"""What every benchmark reports: percentiles of a distribution, and one JSON shape for its results.

A benchmark script is ``bench/<name>.py [--quick] [--json PATH]``; it prints a summary
for a human and, with ``--json``, writes one :class:`BenchResult` as JSON:

* ``figures``: the single numbers ``bench/run.py`` copies into ``bench/results.json``
  (the keys issue 14 names, e.g. ``ticket_open_p99_ms_sqlite``);
* ``distributions``: each measured distribution as count / p50 / p99 / max (and mean);
* ``ratios``: side-by-side comparisons measured in the same run;
* ``notes``: lines for ``bench/RESULTS.md`` (what was measured, what was not and why);
* ``config``: what the run was (rates, counts, durations), so a reader can redo it.

Nothing here asserts a target: machines are shared and noisy; the figures are read.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile by nearest rank (p in 0..100); NaN for no values."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = math.ceil(p / 100 * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]


@dataclass(frozen=True, slots=True)
class Distribution:
    count: int
    p50: float
    p99: float
    max: float
    mean: float
    unit: str = "ms"

    @classmethod
    def of(cls, values: Iterable[float], unit: str = "ms") -> Distribution:
        values = list(values)
        if not values:
            return cls(0, math.nan, math.nan, math.nan, math.nan, unit)
        return cls(
            len(values), percentile(values, 50), percentile(values, 99), max(values), statistics.fmean(values), unit
        )

    def line(self) -> str:
        return (
            f"n={self.count} p50 {self.p50:.1f} p99 {self.p99:.1f} max {self.max:.1f} mean {self.mean:.1f} {self.unit}"
        )

    def as_json(self) -> dict[str, Any]:
        return {key: _finite(value) for key, value in asdict(self).items()}


@dataclass
class BenchResult:
    name: str
    figures: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, Distribution] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "figures": {key: _finite(value) for key, value in self.figures.items()},
            "distributions": {key: value.as_json() for key, value in self.distributions.items()},
            "ratios": {key: _finite(value) for key, value in self.ratios.items()},
            "notes": list(self.notes),
            "config": dict(self.config),
        }

    def write(self, path: str | Path | None) -> None:
        """Write the JSON (when a path is given) and print the summary."""
        for key, distribution in self.distributions.items():
            print(f"{self.name}: {key}: {distribution.line()}")
        for key, value in self.ratios.items():
            print(f"{self.name}: {key}: {value if value is None else f'{value:.2f}'}")
        for key, value in self.figures.items():
            print(f"{self.name}: {key} = {value}")
        for note in self.notes:
            print(f"{self.name}: {note}")
        if path is not None:
            Path(path).write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _finite(value: Any) -> Any:
    """JSON has no NaN: a missing measurement is null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
