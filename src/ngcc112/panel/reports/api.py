"""The reports' JSON and CSV (see :mod:`ngcc112.panel.dispatch_openapi`): the same query as the
reports page."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.api import _invalid
from ngcc112.panel.api_models import queries
from ngcc112.panel.api_models.read import read_query
from ngcc112.panel.auth import require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.reports.charts import report_json
from ngcc112.panel.reports.query import parse_report_query
from ngcc112.panel.reports.views import csv_response, make_report
from ngcc112.panel.roles import ADMIN, DISPATCHER

routes = web.RouteTableDef()


@routes.get("/api/reports")
@require(DISPATCHER, ADMIN)
async def reports(request: web.Request) -> web.Response:
    try:
        read_query(request, queries.ReportQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await _invalid(request, errors, values)
    return web.json_response(report_json(await make_report(request, query)))


@routes.get("/api/reports/csv")
@require(DISPATCHER, ADMIN)
async def reports_csv(request: web.Request) -> web.Response:
    try:
        read_query(request, queries.ReportQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await _invalid(request, errors, values)
    return csv_response(await make_report(request, query))
