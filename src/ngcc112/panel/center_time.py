"""Moments as the 112 center reads them: in its time zone, with the zone's own abbreviation."""

from __future__ import annotations

from datetime import datetime, timezone

from ngcc112.reports.build import ReportError, zone

DEFAULT_REPORT_TZ = "Asia/Jakarta"


def local_time(value: datetime | str | None, tz: str = DEFAULT_REPORT_TZ) -> str:
    """A moment as the center reads it: ``2026-12-01 19:05:03 WIB`` (its zone's own abbreviation)."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored naive (SQLite) means UTC
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        local = moment.astimezone(zone(tz))
    except ReportError:
        local = moment.astimezone(timezone.utc)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
