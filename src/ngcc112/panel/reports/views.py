"""``/reports`` and ``/reports.csv``: the period's report as charts and figures, or as CSV."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from ngcc112.panel.auth import require
from ngcc112.panel.dispatch_labels import STAGE_LABELS
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.forms import translate_errors
from ngcc112.panel.pages import page_values
from ngcc112.panel.rendering import render
from ngcc112.panel.reports.charts import report_charts
from ngcc112.panel.reports.query import ReportQuery, parse_report_query
from ngcc112.panel.roles import ADMIN, DISPATCHER
from ngcc112.panel.state import GETTEXT
from ngcc112.reports.build import build_report
from ngcc112.reports.csv import report_to_csv
from ngcc112.reports.model import Report
from ngcc112.tickets.board import known_sites

routes = web.RouteTableDef()


async def make_report(request: web.Request, query: ReportQuery) -> Report:
    state = request.app[DISPATCH]
    return await build_report(
        state.panel.services.sessions, query.start, query.end, tz=query.tz, targets=state.targets, site=query.site
    )


def csv_response(report: Report) -> web.Response:
    name = f"ngcc112-report-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    response = web.Response(text=report_to_csv(report), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


async def render_page(
    request: web.Request, query: ReportQuery | None, errors: dict[str, str], values: dict[str, str]
) -> web.StreamResponse:
    """The report page: the charts when the query is good, the form with its errors (a 422) when not."""
    report = charts = None
    if query is not None:
        report = await make_report(request, query)
        charts = report_charts(report, request[GETTEXT])
    return await render(
        request,
        "dispatch/reports.html",
        page_values(
            request,
            report=report,
            charts=charts,
            errors=translate_errors(request, errors),
            values=values,
            csv_link="/reports.csv?" + urlencode(values) if query else "",
            stage_labels=STAGE_LABELS,
            sites=await known_sites(request.app[DISPATCH].panel.services.sessions),
        ),
        status=422 if errors else 200,
    )


@routes.get("/reports", name="reports")
@require(DISPATCHER, ADMIN)
async def reports_page(request: web.Request) -> web.StreamResponse:
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    return await render_page(request, query, errors, values)


@routes.get("/reports.csv")
@require(DISPATCHER, ADMIN)
async def reports_csv(request: web.Request) -> web.StreamResponse:
    """The report as CSV; a bad period gets the page with its errors, like ``/reports``."""
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await render_page(request, None, errors, values)
    return csv_response(await make_report(request, query))
