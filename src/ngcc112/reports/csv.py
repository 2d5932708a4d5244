"""The report as CSV — one number per row — and back again.

Columns: ``section, group, item, metric, value``; sections ``meta`` (the period, the zone,
the site the report is limited to), ``summary``, ``hour``, ``verdict``, ``answer``,
``stage``, and one group per ``operator``, ``day`` and ``site``. Counts and sums are the
report's own figures; rows whose metric is a share or a mean (see
:data:`DERIVED`) are written for spreadsheets and recomputed, not read, when
parsing. :func:`parse_report` of :func:`report_to_csv` gives back an equal
:class:`~ngcc112.reports.model.Report`: floats are written with ``repr``, which
round-trips exactly.

Text cells that a spreadsheet would run as a formula (starting with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return — an operator interface comes
from Asterisk, not from us) are written with a leading ``'``, as is one that
already starts with ``'``; parsing removes it again.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

from ngcc112.reports.model import AnswerShare, Group, Report, StageStats

HEADER = ("section", "group", "item", "metric", "value")
#: Metrics derived from the others: written, never parsed.
DERIVED = frozenset({"share", "mean_seconds", "compliance", "abandoned_share"})
_STAGE_METRICS = ("target", "measured", "met", "total_seconds", "max_seconds")
_GROUP_SECTIONS = ("operator", "day", "site")


class ReportCsvError(ValueError):
    """The text is not a report this module wrote."""


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _num(value: float | int | None) -> str:
    if value is None:
        return ""
    return str(value) if isinstance(value, int) else repr(float(value))


def _stage_rows(section: str, group: str, stage: StageStats) -> Iterator[tuple[str, ...]]:
    for metric in _STAGE_METRICS:
        yield section, group, stage.stage, metric, _num(getattr(stage, metric))
    yield section, group, stage.stage, "mean_seconds", _num(stage.mean_seconds)
    yield section, group, stage.stage, "compliance", _num(stage.compliance)


def _answer_rows(section: str, group: str, answer: AnswerShare, prefix: str) -> Iterator[tuple[str, ...]]:
    item = prefix + repr(float(answer.threshold))
    yield section, group, item, "within", _num(answer.within)
    yield section, group, item, "counted", _num(answer.counted)
    yield section, group, item, "share", _num(answer.share)


def _rows(report: Report) -> Iterator[tuple[str, ...]]:
    yield "meta", "", "", "start", report.start.isoformat()
    yield "meta", "", "", "end", report.end.isoformat()
    yield "meta", "", "", "timezone", report.timezone
    yield "meta", "", "", "site", report.site or ""
    for metric in ("calls", "answered", "abandoned", "abandoned_before_queue"):
        yield "summary", "", "", metric, _num(getattr(report, metric))
    yield "summary", "", "", "abandoned_share", _num(report.abandoned_share)
    for hour, calls in enumerate(report.calls_per_hour):
        yield "hour", "", f"{hour:02d}", "calls", _num(calls)
    for verdict, calls in report.verdicts:
        yield "verdict", "", verdict, "calls", _num(calls)
        yield "verdict", "", verdict, "share", _num(report.verdict_share(verdict))
    for answer in report.answer:
        yield from _answer_rows("answer", "", answer, "")
    for stage in report.stages:
        yield from _stage_rows("stage", "", stage)
    for section, groups in (("operator", report.per_operator), ("day", report.per_day), ("site", report.per_site)):
        for group in groups:
            for metric in ("calls", "answered", "abandoned"):
                yield section, group.key, "", metric, _num(getattr(group, metric))
            for stage in group.stages:
                yield from _stage_rows(section, group.key, stage)
            for answer in group.answer:
                yield from _answer_rows(section, group.key, answer, "answer:")


def report_to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(
        (section, _cell(group), _cell(item), metric, value) for section, group, item, metric, value in _rows(report)
    )
    return out.getvalue()


def _float(value: str) -> float | None:
    return None if value == "" else float(value)


def _stage(item: str, values: dict[str, str]) -> StageStats:
    return StageStats(
        stage=item,
        target=_float(values["target"]),
        measured=int(values["measured"]),
        met=int(values["met"]),
        total_seconds=float(values["total_seconds"]),
        max_seconds=_float(values["max_seconds"]),
    )


def _answer(item: str, values: dict[str, str]) -> AnswerShare:
    return AnswerShare(threshold=float(item), within=int(values["within"]), counted=int(values["counted"]))


def parse_report(text: str) -> Report:
    """The report a :func:`report_to_csv` text holds; :class:`ReportCsvError` if it is not one."""
    reader = csv.reader(io.StringIO(text))
    if tuple(next(reader, ())) != HEADER:
        raise ReportCsvError(f"the first row must be {','.join(HEADER)}")
    # (section, group, item) -> {metric: value}, in the order they first appear
    cells: dict[tuple[str, str, str], dict[str, str]] = {}
    for number, row in enumerate(reader, start=2):
        if len(row) != len(HEADER):
            raise ReportCsvError(f"row {number} has {len(row)} columns, not {len(HEADER)}")
        section, group, item, metric, value = row
        group, item = _uncell(group), _uncell(item)
        if metric not in DERIVED:
            cells.setdefault((section, group, item), {})[metric] = value
    try:
        return _assemble(cells)
    except (KeyError, ValueError) as exc:
        raise ReportCsvError(f"incomplete or malformed report: {exc!r}") from None


@dataclass
class _GroupRows:
    """One group's rows while the CSV is read back: its counts, stages and answer shares."""

    counts: dict[str, int] = field(default_factory=dict)
    stages: list[StageStats] = field(default_factory=list)
    answer: list[AnswerShare] = field(default_factory=list)


def _assemble(cells: dict[tuple[str, str, str], dict[str, str]]) -> Report:
    meta, summary = cells[("meta", "", "")], cells[("summary", "", "")]
    hours = sorted((int(item), int(v["calls"])) for (s, _, item), v in cells.items() if s == "hour")
    if [h for h, _ in hours] != list(range(24)):
        raise ValueError("calls_per_hour needs the 24 hours 00-23")
    groups: dict[str, dict[str, _GroupRows]] = {section: {} for section in _GROUP_SECTIONS}
    for (section, key, item), values in cells.items():
        if section not in groups:
            continue
        group = groups[section].setdefault(key, _GroupRows())
        if item == "":
            group.counts.update({k: int(v) for k, v in values.items()})
        elif item.startswith("answer:"):
            group.answer.append(_answer(item.removeprefix("answer:"), values))
        else:
            group.stages.append(_stage(item, values))

    def built(section: str) -> tuple[Group, ...]:
        return tuple(
            Group(
                key=key,
                calls=g.counts["calls"],
                answered=g.counts["answered"],
                abandoned=g.counts["abandoned"],
                stages=tuple(g.stages),
                answer=tuple(g.answer),
            )
            for key, g in groups[section].items()
        )

    return Report(
        start=date.fromisoformat(meta["start"]),
        end=date.fromisoformat(meta["end"]),
        timezone=meta["timezone"],
        calls=int(summary["calls"]),
        answered=int(summary["answered"]),
        abandoned=int(summary["abandoned"]),
        abandoned_before_queue=int(summary["abandoned_before_queue"]),
        calls_per_hour=tuple(calls for _, calls in hours),
        verdicts=tuple((item, int(v["calls"])) for (s, _, item), v in cells.items() if s == "verdict"),
        answer=tuple(_answer(item, v) for (s, _, item), v in cells.items() if s == "answer"),
        stages=tuple(_stage(item, v) for (s, _, item), v in cells.items() if s == "stage"),
        per_operator=built("operator"),
        per_day=built("day"),
        site=meta.get("site") or None,
        per_site=built("site"),
    )
