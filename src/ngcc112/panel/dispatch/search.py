"""``/dispatch/tickets`` (+ ``.csv``): every ticket, searched and filtered a page at a time
(:mod:`ngcc112.panel.ticket_search` parses and runs the query)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from ngcc112.panel import ticket_search as ticket_search_mod
from ngcc112.panel.auth import require
from ngcc112.panel.center_time import local_time
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.forms import error_summary, translate_errors
from ngcc112.panel.pages import page_values
from ngcc112.panel.rendering import render
from ngcc112.panel.roles import ADMIN, DISPATCHER
from ngcc112.panel.state import GETTEXT
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets.board import known_sites

routes = web.RouteTableDef()


async def ticket_search(
    request: web.Request,
) -> tuple[ticket_search_mod.TicketQuery | None, dict[str, str], dict[str, str], list[dict[str, str]]]:
    """The search's query from the request's GET parameters: (query or None, errors, values, agencies)."""
    state = request.app[DISPATCH]
    agencies = [
        {"code": a.code, "name": a.name} for a in await agency_admin.list_agencies(state.panel.services.sessions)
    ]
    query, errors, values = ticket_search_mod.parse_ticket_query(
        request.query, {a["code"] for a in agencies}, state.report_tz
    )
    return query, errors, values, agencies


def when_local(request: web.Request) -> Callable[[datetime | None], str]:
    tz = request.app[DISPATCH].report_tz
    return lambda moment: local_time(moment, tz)


def _search_link(values: dict[str, str], **changes: Any) -> str:
    wanted = {
        k: v for k, v in {**values, **changes}.items() if v not in ("", None) and not (k == "page" and str(v) == "1")
    }
    return "?" + urlencode(wanted) if wanted else ""


@routes.get("/dispatch/tickets", name="dispatch_tickets")
@require(DISPATCHER, ADMIN)
async def tickets_page(request: web.Request) -> web.StreamResponse:
    """Every ticket, searched and filtered (number, state, verdict, agency, days, site), a page at a time."""
    query, errors, values, agencies = await ticket_search(request)
    found = None
    if query is not None:
        found = await ticket_search_mod.search_tickets(request.app[DISPATCH].panel.services.sessions, query)
    translated = translate_errors(request, errors)
    links = {}
    if found is not None:
        links = {
            "csv": "/dispatch/tickets.csv" + _search_link(values, page=""),
            "previous": _search_link(values, page=found.page - 1) or "?" if found.page > 1 else None,
            "next": _search_link(values, page=found.page + 1) if found.page < found.pages else None,
        }
    return await render(
        request,
        "dispatch/tickets.html",
        page_values(
            request,
            found=found,
            rows=[ticket_search_mod.row_json(r, when_local(request)) for r in found.rows] if found else [],
            errors=translated,
            values=values,
            agencies=agencies,
            links=links,
            summary=error_summary(translated),
            page_size=ticket_search_mod.PAGE_SIZE,
            sites=await known_sites(request.app[DISPATCH].panel.services.sessions),
        ),
        status=422 if errors else 200,
    )


@routes.get("/dispatch/tickets.csv")
@require(DISPATCHER, ADMIN)
async def tickets_csv(request: web.Request) -> web.StreamResponse:
    """The tickets the search finds (every page), one CSV row each."""
    query, errors, _values, _agencies = await ticket_search(request)
    if query is None:
        return await tickets_page(request)
    rows = await ticket_search_mod.all_matching(request.app[DISPATCH].panel.services.sessions, query)
    text = ticket_search_mod.tickets_csv(rows, request[GETTEXT], when_local(request))
    response = web.Response(text=text, content_type="text/csv", charset="utf-8")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="ngcc112-tickets-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response
