"""Finding tickets for the dispatcher: filters from a query string, one page of results, the CSV.

The filters (all optional, GET parameters, as typed into the search form):

* ``number`` — part of the caller's number (digits, ``+``, spaces and ``-``; up to 32 characters);
* ``state`` — a ticket state; ``verdict`` — the operator's verdict; ``agency`` — an agency code
  (tickets dispatched to it);
* ``start`` / ``end`` — the first and last day of arrival, ``YYYY-MM-DD``, in the center's time
  zone (both included);
* ``site`` — the site whose Asterisk took the call (cluster mode with several sites);
* ``page`` — 1, 2, ... (:data:`PAGE_SIZE` tickets a page, newest first).

:func:`parse_ticket_query` never raises on bad input: it answers per-field errors (msgids) and the
values as typed, so the page shows a clear message and the API a 422 — never a 500.

The CSV has one row per ticket (every match, not one page; at most :data:`MAX_CSV_ROWS`). A
cell a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return — a caller's number ``+62…`` included) is written with a leading ``'``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.panel import labels
from ngcc112.reports.build import FIRST_DAY, LAST_DAY, zone
from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.states import State

PAGE_SIZE = 50
#: The most rows one CSV carries (narrow the filters for more).
MAX_CSV_ROWS = 50_000
MAX_PAGE = 100_000
MAX_NUMBER = 32
FIELDS = ("number", "state", "verdict", "agency", "start", "end", "site", "page")
_NUMBER = re.compile(r"[0-9+ \-]{1,32}")
#: A site's name, as ``[cluster] site`` allows it.
_SITE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

MESSAGES = (
    N_("Digits, '+', spaces or '-' only, up to 32"),
    N_("Choose a state from the list"),
    N_("Choose a verdict from the list"),
    N_("Choose an agency from the list"),
    N_("Enter a date like 2026-11-28"),
    N_("The end is before the start"),
    N_("A page number from 1"),
    N_("Use dates from 2000-01-01 to 2099-12-31"),
    N_("Choose a site from the list"),
)


@dataclass(frozen=True, slots=True)
class TicketQuery:
    number: str | None = None
    state: str | None = None
    verdict: str | None = None
    agency: str | None = None
    start: date | None = None
    end: date | None = None
    page: int = 1
    tz: str = "Asia/Jakarta"
    site: str | None = None


@dataclass(frozen=True, slots=True)
class TicketRow:
    id: int
    arrived_at: datetime
    caller_number: str | None
    state: str
    verdict: str | None
    category: str | None
    agencies: tuple[str, ...]
    closed_at: datetime | None
    closed_reason: str | None
    #: The site whose Asterisk took the call.
    site: str = "main"


@dataclass(frozen=True, slots=True)
class TicketPage:
    rows: list[TicketRow]
    total: int
    page: int
    pages: int


def _text(query: Mapping[str, Any], key: str) -> str:
    value = query.get(key)
    return "" if value is None else str(value).strip()


def parse_ticket_query(
    query: Mapping[str, Any], agency_codes: set[str], tz: str
) -> tuple[TicketQuery | None, dict[str, str], dict[str, str]]:
    """(the query, or None; per-field errors as msgids; the values as typed, for the form)."""
    values = {key: _text(query, key) for key in FIELDS}
    errors: dict[str, str] = {}
    number = values["number"]
    if number and not _NUMBER.fullmatch(number):
        errors["number"] = N_("Digits, '+', spaces or '-' only, up to 32")
    if values["state"] and values["state"] not in labels.STATE_LABELS:
        errors["state"] = N_("Choose a state from the list")
    if values["verdict"] and values["verdict"] not in labels.VERDICT_LABELS:
        errors["verdict"] = N_("Choose a verdict from the list")
    if values["agency"] and values["agency"] not in agency_codes:
        errors["agency"] = N_("Choose an agency from the list")
    if values["site"] and not _SITE.fullmatch(values["site"]):
        errors["site"] = N_("Choose a site from the list")
    days: dict[str, date | None] = {"start": None, "end": None}
    for key in ("start", "end"):
        text = values[key]
        if not text:
            continue
        try:
            day = date.fromisoformat(text if _DAY.fullmatch(text) else "")
        except ValueError:
            errors[key] = N_("Enter a date like 2026-11-28")
            continue
        if not FIRST_DAY <= day <= LAST_DAY:
            errors[key] = N_("Use dates from 2000-01-01 to 2099-12-31")
            continue
        days[key] = day
    if days["start"] and days["end"] and days["end"] < days["start"]:
        errors["end"] = N_("The end is before the start")
    page = 1
    if values["page"]:
        if values["page"].isascii() and values["page"].isdigit() and 1 <= int(values["page"]) <= MAX_PAGE:
            page = int(values["page"])
        else:
            errors["page"] = N_("A page number from 1")
    if errors:
        return None, errors, values
    digits = "".join(c for c in number if c.isdigit() or c == "+")
    return (
        TicketQuery(
            number=digits or None,
            state=values["state"] or None,
            verdict=values["verdict"] or None,
            agency=values["agency"] or None,
            start=days["start"],
            end=days["end"],
            page=page,
            tz=tz,
            site=values["site"] or None,
        ),
        {},
        values,
    )


def _filtered(query: TicketQuery, statement: Select[Any]) -> Select[Any]:
    if query.number:
        statement = statement.where(Ticket.caller_number.contains(query.number, autoescape=True))
    if query.state:
        statement = statement.where(Ticket.state == query.state)
    if query.verdict:
        statement = statement.where(Ticket.verdict == query.verdict)
    if query.site:
        statement = statement.where(Ticket.site == query.site)
    if query.agency:
        statement = statement.where(
            Ticket.id.in_(
                select(Dispatch.ticket_id)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .where(Agency.code == query.agency)
            )
        )
    local = zone(query.tz)
    if query.start:
        statement = statement.where(Ticket.arrived_at >= datetime.combine(query.start, time(), local))
    if query.end:
        statement = statement.where(Ticket.arrived_at < datetime.combine(query.end + timedelta(days=1), time(), local))
    return statement


async def _rows(session: AsyncSession, tickets: Sequence[Ticket]) -> list[TicketRow]:
    ids = [t.id for t in tickets]
    agencies: dict[int, list[str]] = {}
    reasons: dict[int, str] = {}
    if ids:
        for ticket_id, name in (
            await session.execute(
                select(Dispatch.ticket_id, Agency.name)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .where(Dispatch.ticket_id.in_(ids))
                .order_by(Dispatch.id)
            )
        ).all():
            agencies.setdefault(ticket_id, []).append(name)
        for ticket_id, changes in (
            await session.execute(
                select(AuditEntry.ticket_id, AuditEntry.changes)
                .where(AuditEntry.ticket_id.in_(ids), AuditEntry.action == "close")
                .order_by(AuditEntry.id)
            )
        ).all():
            reason = (changes or {}).get("override_reason") or (changes or {}).get("note")
            if isinstance(reason, str) and reason:
                reasons[ticket_id] = reason
    return [
        TicketRow(
            id=t.id,
            arrived_at=t.arrived_at,
            caller_number=t.caller_number,
            state=t.state,
            verdict=t.verdict,
            category=t.category,
            agencies=tuple(agencies.get(t.id, ())),
            closed_at=t.closed_at,
            closed_reason=reasons.get(t.id) or (t.note if t.state == State.CLOSED.value else None),
            site=t.site,
        )
        for t in tickets
    ]


async def search_tickets(
    sessions: async_sessionmaker[AsyncSession], query: TicketQuery, page_size: int = PAGE_SIZE
) -> TicketPage:
    """One page of the tickets matching ``query``, newest first, with how many match in all."""
    async with sessions() as session:
        total = (await session.scalar(_filtered(query, select(func.count(Ticket.id))))) or 0
        pages = max(1, -(-total // page_size))
        tickets = (
            await session.scalars(
                _filtered(query, select(Ticket))
                .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
                .offset((query.page - 1) * page_size)
                .limit(page_size)
            )
        ).all()
        return TicketPage(rows=await _rows(session, tickets), total=total, page=query.page, pages=pages)


async def all_matching(sessions: async_sessionmaker[AsyncSession], query: TicketQuery) -> list[TicketRow]:
    """Every ticket matching ``query`` (paging ignored), newest first, at most :data:`MAX_CSV_ROWS`."""
    async with sessions() as session:
        tickets = (
            await session.scalars(
                _filtered(query, select(Ticket))
                .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
                .limit(MAX_CSV_ROWS)
            )
        ).all()
        return await _rows(session, tickets)


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet shows as text: a would-be formula gets a leading ``'``."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


CSV_HEADER = (
    N_("Ticket"),
    N_("Arrived (local time)"),
    N_("Number"),
    N_("State"),
    N_("Verdict"),
    N_("Category"),
    N_("Agencies"),
    N_("Closed (local time)"),
    N_("Reason for closing"),
    N_("Site"),
)


def tickets_csv(
    rows: Sequence[TicketRow], translate: Callable[[str], str], when: Callable[[datetime | None], str]
) -> str:
    """One row per ticket; states, verdicts and categories in the reader's language."""

    def label(table: Mapping[str, str], value: str | None) -> str:
        return translate(table[value]) if value is not None and value in table else (value or "")

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([translate(h) for h in CSV_HEADER])
    for row in rows:
        writer.writerow(
            [
                safe_cell(v)
                for v in (
                    row.id,
                    when(row.arrived_at),
                    row.caller_number,
                    label(labels.STATE_LABELS, row.state),
                    label(labels.VERDICT_LABELS, row.verdict),
                    label(labels.CATEGORY_LABELS, row.category),
                    "; ".join(row.agencies),
                    when(row.closed_at) if row.closed_at else "",
                    row.closed_reason,
                    row.site,
                )
            ]
        )
    return out.getvalue()


def row_json(row: TicketRow, when: Callable[[datetime | None], str]) -> dict[str, Any]:
    return {
        "id": row.id,
        "arrived_at": row.arrived_at.isoformat(),
        "arrived_local": when(row.arrived_at),
        "caller_number": row.caller_number,
        "state": row.state,
        "verdict": row.verdict,
        "category": row.category,
        "agencies": list(row.agencies),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
        "closed_reason": row.closed_reason,
        "site": row.site,
    }


__all__ = [
    "CSV_HEADER",
    "MAX_CSV_ROWS",
    "PAGE_SIZE",
    "TicketPage",
    "TicketQuery",
    "TicketRow",
    "all_matching",
    "parse_ticket_query",
    "row_json",
    "safe_cell",
    "search_tickets",
    "tickets_csv",
]
