"""The agency's JSON API (see :mod:`ngcc112.panel.dispatch_openapi`): its dispatches, acknowledging
one, its status and its field report."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.agency.data import agency_dispatch, agency_dispatches
from ngcc112.panel.auth import require
from ngcc112.panel.dispatch.answers import dispatch_result, field_report, run_use_case, status_update
from ngcc112.panel.roles import AGENCY
from ngcc112.panel.state import PANEL, USER
from ngcc112.tickets import dispatch as dispatching

routes = web.RouteTableDef()


@routes.get("/api/agency/dispatches")
@require(AGENCY)
async def agency_list(request: web.Request) -> web.Response:
    return web.json_response(await agency_dispatches(request))


@routes.get("/api/agency/dispatches/{dispatch_id:\\d+}")
@require(AGENCY)
async def agency_one(request: web.Request) -> web.Response:
    return web.json_response(await agency_dispatch(request, int(request.match_info["dispatch_id"])))


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/acknowledge")
@require(AGENCY)
async def agency_acknowledge(request: web.Request) -> web.Response:
    dispatch_id = int(request.match_info["dispatch_id"])
    panel = request.app[PANEL]
    return await run_use_case(
        request,
        lambda: dispatching.acknowledge(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, request[USER]
        ),
        {},
        dispatch_result,
    )


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/status")
@require(AGENCY)
async def agency_status(request: web.Request) -> web.Response:
    return await status_update(request)


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/report")
@require(AGENCY)
async def agency_report(request: web.Request) -> web.Response:
    return await field_report(request)
