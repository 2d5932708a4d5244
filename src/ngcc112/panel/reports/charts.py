"""A report as the page draws it (inline SVG bar geometry, figures) and as JSON (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ngcc112.panel import labels
from ngcc112.panel.dispatch_labels import STAGE_LABELS
from ngcc112.reports.model import Report
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.sla import Stage


def _bars(
    rows: Sequence[tuple[str, str, float | None, str]], *, maximum: float | None = None, label_width: int = 150
) -> dict[str, Any]:
    """A horizontal bar chart's geometry: rows of (key, label, value, shown text)."""
    row_height, bar_area = 22, 360
    top = max([v for _k, _l, v, _t in rows if v is not None] + [0.0])
    scale = maximum if maximum is not None else top
    bars = []
    for index, (key, label, value, text) in enumerate(rows):
        width = 0.0 if not value or not scale else round(bar_area * value / scale, 1)
        bars.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "text": text,
                "x": label_width,
                "y": index * row_height + 3,
                "width": width,
                "height": row_height - 6,
                "text_x": label_width + width + 6,
                "text_y": index * row_height + row_height - 7,
            }
        )
    return {
        "bars": bars,
        "width": label_width + bar_area + 90,
        "height": max(1, len(rows)) * row_height,
        "label_x": label_width - 6,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def report_charts(report: Report, translate: Callable[[str], str]) -> dict[str, Any]:
    """The report's charts (inline SVG geometry) and figures, straight from ``reports``."""
    hours = _bars(
        [(f"{h:02d}", f"{h:02d}:00", float(n), str(n)) for h, n in enumerate(report.calls_per_hour)], label_width=60
    )
    verdict_rows = []
    for verdict, count in report.verdicts:
        label = labels.VERDICT_LABELS.get(verdict, N_("Not classified"))
        share = report.verdict_share(verdict)
        verdict_rows.append((verdict, translate(label), float(count), f"{count} ({_pct(share)})"))
    operator_rows = []
    for group in report.per_operator:
        for stage in group.stages:
            value = stage.compliance
            operator_rows.append(
                (
                    f"{group.key}|{stage.stage}",
                    f"{group.key} · {translate(STAGE_LABELS[stage.stage])}",
                    None if value is None else value * 100,
                    f"{_pct(value)} ({stage.met}/{stage.measured})",
                )
            )
    day_rows, abandoned_rows = [], []
    thresholds = tuple(a.threshold for a in report.answer)
    target = 15.0 if 15.0 in thresholds else (thresholds[len(thresholds) // 2] if thresholds else None)
    for group in report.per_day:
        answer = next((a for a in group.answer if a.threshold == target), None)
        intake = next((s for s in group.stages if s.stage == Stage.INTAKE.value), None)
        for key, label, value, text in (
            (
                "answer",
                translate(N_("Answered in time")),
                answer.share if answer else None,
                f"{_pct(answer.share if answer else None)} ({answer.within}/{answer.counted})" if answer else "—",
            ),
            (
                "intake",
                translate(STAGE_LABELS["intake"]),
                intake.compliance if intake else None,
                f"{_pct(intake.compliance)} ({intake.met}/{intake.measured})" if intake else "—",
            ),
        ):
            day_rows.append(
                (f"{group.key}|{key}", f"{group.key} · {label}", None if value is None else value * 100, text)
            )
        abandoned_rows.append((group.key, group.key, float(group.abandoned), f"{group.abandoned}/{group.calls}"))
    return {
        "hours": hours,
        "verdicts": _bars(verdict_rows),
        "operators": _bars(operator_rows, maximum=100.0, label_width=260),
        "days": _bars(day_rows, maximum=100.0, label_width=260),
        "abandoned": _bars(abandoned_rows, label_width=110),
        "answer_target": target,
        "figures": {
            "calls": report.calls,
            "answered": report.answered,
            "abandoned": report.abandoned,
            "abandoned_before_queue": report.abandoned_before_queue,
            "abandoned_share": _pct(report.abandoned_share),
            "answer": [
                {"threshold": a.threshold, "within": a.within, "counted": a.counted, "share": _pct(a.share)}
                for a in report.answer
            ],
            "stages": [
                {
                    "stage": s.stage,
                    "target": s.target,
                    "measured": s.measured,
                    "met": s.met,
                    "compliance": _pct(s.compliance),
                    "mean": "—" if s.mean_seconds is None else f"{s.mean_seconds:.1f}",
                }
                for s in report.stages
            ],
        },
    }


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON: the counts and sums ``reports`` holds, with the derived shares."""

    def stage(s: Any) -> dict[str, Any]:
        return {
            "stage": s.stage,
            "target": s.target,
            "measured": s.measured,
            "met": s.met,
            "total_seconds": s.total_seconds,
            "max_seconds": s.max_seconds,
            "mean_seconds": s.mean_seconds,
            "compliance": s.compliance,
        }

    def answer(a: Any) -> dict[str, Any]:
        return {"threshold": a.threshold, "within": a.within, "counted": a.counted, "share": a.share}

    def group(g: Any) -> dict[str, Any]:
        return {
            "key": g.key,
            "calls": g.calls,
            "answered": g.answered,
            "abandoned": g.abandoned,
            "stages": [stage(s) for s in g.stages],
            "answer": [answer(a) for a in g.answer],
        }

    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "timezone": report.timezone,
        "calls": report.calls,
        "answered": report.answered,
        "abandoned": report.abandoned,
        "abandoned_before_queue": report.abandoned_before_queue,
        "calls_per_hour": list(report.calls_per_hour),
        "verdicts": [{"verdict": v, "calls": n, "share": report.verdict_share(v)} for v, n in report.verdicts],
        "answer": [answer(a) for a in report.answer],
        "stages": [stage(s) for s in report.stages],
        "per_operator": [group(g) for g in report.per_operator],
        "per_day": [group(g) for g in report.per_day],
        "site": report.site,
        "per_site": [group(g) for g in report.per_site],
    }
