"""``ngcc112 report --from DATE --to DATE [--csv]``: the report for a date range, as text or CSV."""

from __future__ import annotations

from datetime import date

from ngcc112.reports.build import build_report
from ngcc112.reports.csv import report_to_csv
from ngcc112.reports.text import render_text
from ngcc112.settings import Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.sla import DEFAULT_TARGETS, SlaTargets


async def run_report(
    settings: Settings, start: date, end: date, csv: bool, *, tz: str = "UTC", targets: SlaTargets = DEFAULT_TARGETS
) -> str:
    """The report on the configured database; raises ``ReportError`` for a bad range or zone.

    Read-only: it never migrates the schema (run ``ngcc112 db upgrade`` first).
    """
    engine = make_engine(settings.database_url)
    try:
        report = await build_report(make_sessions(engine), start, end, tz=tz, targets=targets)
    finally:
        await engine.dispose()
    return report_to_csv(report) if csv else render_text(report)
