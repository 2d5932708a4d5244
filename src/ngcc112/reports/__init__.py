"""Reports over a date range: calls per hour, verdicts, answer times, SLA compliance; text or CSV."""

from ngcc112.reports.build import ReportError, build_report
from ngcc112.reports.model import AnswerShare, Group, Report, StageStats
from ngcc112.reports.run import run_report

__all__ = ["AnswerShare", "Group", "Report", "ReportError", "StageStats", "build_report", "run_report"]
