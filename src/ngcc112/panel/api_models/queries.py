"""The query strings of the ticket search, the report and the live channel: what each parameter may be.

The models check the form of each parameter (a day is YYYY-MM-DD or empty, a page a number from
1); what needs the database or the calendar (an agency that exists, a real date within
2000-2099, the end after the start) is the search's and the report's own parsing, which follows.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, WithJsonSchema

from ngcc112.panel.api_models.fields import Body, Storable
from ngcc112.panel.ticket_search import MAX_NUMBER, MAX_PAGE
from ngcc112.tickets.intake_form import N_

#: A day, YYYY-MM-DD; empty (as a form sends it): the default.
Day = Annotated[
    Storable,
    Field(pattern=r"^([0-9]{4}-[0-9]{2}-[0-9]{2})?$"),
    WithJsonSchema({"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}),
]
DAY = N_("Enter a date like 2026-11-28")


class SearchQuery(Body):
    """Every filter optional, newest first, 50 a page."""

    messages = {
        "number": N_("Digits, '+', spaces or '-' only, up to 32"),
        "state": N_("Choose a state from the list"),
        "verdict": N_("Choose a verdict from the list"),
        "agency": N_("Choose an agency from the list"),
        "start": DAY,
        "end": DAY,
        "page": N_("A page number from 1"),
        "site": N_("Choose a site from the list"),
    }

    number: Storable = Field(
        default="", max_length=MAX_NUMBER, pattern=r"^[0-9+ -]*$", description="Part of the caller's number"
    )
    state: Storable = Field(default="", description="A ticket state (e.g. closed)")
    verdict: Storable = Field(default="", description="normal, ghost, prank or information")
    agency: Storable = Field(default="", description="An agency code: tickets dispatched to it")
    start: Day = Field(default="", description="First day of arrival (the center's time zone), included")
    end: Day = Field(default="", description="Last day of arrival (the center's time zone), included")
    site: Storable = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9_-]{0,31})?$",
        description="Only the tickets of this site; default: every site",
    )
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class ReportQuery(Body):
    """A date range in a time zone; every parameter optional."""

    messages = {
        "start": DAY,
        "end": DAY,
        "tz": N_("Unknown time zone; use a name such as Asia/Jakarta"),
    }

    start: Day = Field(
        default="", description="First day (local, 2000-01-01 to 2099-12-31); default: six days before the end"
    )
    end: Day = Field(default="", description="Last day (local), included; default: today")
    tz: Storable = Field(default="Asia/Jakarta", description="IANA time zone the days and hours are counted in")
    site: Storable = Field(default="", description="Only the calls taken at this site; default: every site")


class LiveQuery(Body):
    """Which of the live hub's channels a socket on ``/ws`` joins."""

    channel: Literal["desk", "dispatch"] = Field(
        default="desk",
        description="desk (the default): an operator hears of their own desk, staff of the room's board; "
        "dispatch: staff hear what changed on the dispatch pages, an agency user only of the tickets "
        "dispatched to their agency",
    )
