"""The report as plain text for the terminal (``ngcc112 report``)."""

from __future__ import annotations

from ngcc112.reports.model import AnswerShare, Report, StageStats


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _target(stage: StageStats) -> str:
    return "-" if stage.target is None else f"<= {stage.target:g}s"


def _answer(answer: AnswerShare) -> str:
    return f"{_pct(answer.share)} within {answer.threshold:g}s ({answer.within}/{answer.counted})"


def render_text(report: Report) -> str:
    lines = [f"ngcc112 report {report.start} .. {report.end} (days and hours in {report.timezone})", ""]
    lines += [
        f"calls      {report.calls}",
        f"answered   {report.answered}",
        f"abandoned  {report.abandoned} ({_pct(report.abandoned_share)}), "
        f"{report.abandoned_before_queue} before reaching the queue",
        "",
    ]
    lines.append("answered within, from arrival (abandoned sooner than the threshold not counted):")
    lines += [f"  {_answer(a)}" for a in report.answer] + [""]
    lines.append("verdicts:")
    lines += [
        f"  {verdict:<13} {calls:>6}  {_pct(report.verdict_share(verdict)):>7}" for verdict, calls in report.verdicts
    ] + [""]
    lines.append("calls per hour of arrival:")
    lines += [f"  {hour:02d}:00  {calls:>6}" for hour, calls in enumerate(report.calls_per_hour) if calls]
    lines += [
        "",
        "stages:",
        f"  {'stage':<15} {'target':>9} {'measured':>9} {'met':>6} {'compliance':>11} {'mean':>9} {'max':>9}",
    ]
    lines += [
        f"  {s.stage:<15} {_target(s):>9} {s.measured:>9} {(s.met if s.target else '-')!s:>6} "
        f"{_pct(s.compliance):>11} {_secs(s.mean_seconds):>9} {_secs(s.max_seconds):>9}"
        for s in report.stages
    ]
    lines += ["", "per operator (answered calls; intake and classification within target):"]
    for group in report.per_operator:
        judged = "  ".join(f"{s.stage} {_pct(s.compliance)} ({s.met}/{s.measured})" for s in group.stages)
        lines.append(f"  {group.key:<24} {group.answered:>5} answered  {judged}")
    lines += ["", "per day:"]
    for group in report.per_day:
        judged = "  ".join(f"{s.stage} {_pct(s.compliance)}" for s in group.stages if s.target is not None)
        answered = " ".join(f"<={a.threshold:g}s {_pct(a.share)}" for a in group.answer)
        lines.append(
            f"  {group.key}  calls {group.calls:>5}  answered {group.answered:>5}  "
            f"abandoned {group.abandoned:>4}  answered in {answered}  {judged}"
        )
    return "\n".join(lines) + "\n"
