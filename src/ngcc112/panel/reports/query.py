"""The report page's query (pure): start, end and time zone from the request, checked; the last
7 days by default."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from ngcc112.panel import bodies
from ngcc112.reports.build import FIRST_DAY, LAST_DAY, ReportError, zone
from ngcc112.tickets.intake_form import N_

#: The longest report range the page makes.
MAX_REPORT_DAYS = 366
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: date
    end: date
    tz: str
    #: Only the calls taken at this site (None: every site).
    site: str | None = None


def parse_report_query(query: Any, default_tz: str) -> tuple[ReportQuery | None, dict[str, str], dict[str, str]]:
    """(the query, per-field errors, the values as typed). Defaults: the last 7 days in ``default_tz``."""
    tz = str(query.get("tz") or default_tz).strip()
    values = {"start": str(query.get("start") or ""), "end": str(query.get("end") or ""), "tz": tz}
    site = str(query.get("site") or "").strip()
    if site:
        values["site"] = site
    errors: dict[str, str] = {}
    try:
        local = zone(tz)
    except ReportError:
        errors["tz"] = N_("Unknown time zone; use a name such as Asia/Jakarta")
        local = timezone.utc
    today = datetime.now(local).date()
    parsed: dict[str, date] = {}
    for key, fallback in (("end", today), ("start", None)):
        text = values[key].strip()
        if not text:  # the start by default: the week up to the end (the end still to be fixed: today's)
            parsed[key] = (
                fallback if fallback is not None else max(FIRST_DAY, parsed.get("end", today) - timedelta(days=6))
            )
            values[key] = parsed[key].isoformat()
            continue
        try:  # YYYY-MM-DD only (fromisoformat also takes week dates and the basic format)
            parsed[key] = date.fromisoformat(text if _DAY.fullmatch(text) else "")
        except ValueError:
            errors[key] = N_("Enter a date like 2026-11-28")
            continue
        if not FIRST_DAY <= parsed[key] <= LAST_DAY:
            errors[key] = bodies.DATE_RANGE
    if not errors:
        if parsed["end"] < parsed["start"]:
            errors["end"] = N_("The end is before the start")
        elif (parsed["end"] - parsed["start"]).days >= MAX_REPORT_DAYS:
            errors["end"] = N_("At most 366 days")
    if errors:
        return None, errors, values
    return ReportQuery(parsed["start"], parsed["end"], tz, site or None), {}, values
