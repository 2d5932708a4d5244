"""``/agency`` and ``/agency/dispatches/{id}``: an agency user's own dispatches, and acknowledging,
updating the status of and reporting on one (post/redirect/get)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.agency.data import agency_dispatch, agency_dispatches
from ngcc112.panel.agency.validate import validate_report, validate_status
from ngcc112.panel.auth import require
from ngcc112.panel.form_memory import recall, remember
from ngcc112.panel.forms import refused_text, translate_errors
from ngcc112.panel.pages import page_values
from ngcc112.panel.refusals import field_error
from ngcc112.panel.rendering import flash, render
from ngcc112.panel.roles import AGENCY
from ngcc112.panel.state import PANEL, USER
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.states import TransitionRefused

routes = web.RouteTableDef()


@routes.get("/agency", name="agency_list")
@require(AGENCY)
async def agency_page(request: web.Request) -> web.StreamResponse:
    values = page_values(request, data=await agency_dispatches(request), flash=await flash(request))
    return await render(request, "dispatch/agency.html", values)


async def agency_dispatch_page(request: web.Request, dispatch_id: int) -> web.Response:
    """One dispatch; a form refused a moment ago comes back (post/redirect/get) with its errors."""
    data = await agency_dispatch(request, dispatch_id)
    refused = recall(request, f"agency-dispatch-{dispatch_id}")
    values = dict(refused.values) if refused else {}
    errors = dict(refused.errors) if refused else {}
    error = errors.pop("", None)
    page = page_values(request, data=data, errors=errors, values=values, form_error=error, flash=await flash(request))
    return await render(request, "dispatch/agency_dispatch.html", page)


@routes.get("/agency/dispatches/{dispatch_id:\\d+}", name="agency_dispatch")
@require(AGENCY)
async def agency_dispatch_get(request: web.Request) -> web.StreamResponse:
    return await agency_dispatch_page(request, int(request.match_info["dispatch_id"]))


async def _agency_action(
    request: web.Request, run: Callable[[], Any], values: dict[str, Any], errors: dict[str, str], notice: str
) -> web.StreamResponse:
    """Run one agency action; refused or not, answer 303 to the dispatch's page (post/redirect/get)."""
    dispatch_id = int(request.match_info["dispatch_id"])
    page = f"/agency/dispatches/{dispatch_id}"
    errors = translate_errors(request, errors)
    if not errors:
        try:
            await run()
        except dispatching.DispatchError as exc:
            errors = field_error(request, exc)
        except TransitionRefused as exc:
            errors = {"": refused_text(request, exc)}  # "": about the form, not one field
    if errors:
        remember(request, f"agency-dispatch-{dispatch_id}", values, errors)
        raise web.HTTPSeeOther(page)
    await flash(request, notice)
    raise web.HTTPSeeOther(page)


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/acknowledge")
@require(AGENCY)
async def acknowledge_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    return await _agency_action(
        request,
        lambda: dispatching.acknowledge(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, request[USER]
        ),
        {},
        {},
        "Acknowledged",
    )


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/status")
@require(AGENCY)
async def status_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    form = await request.post()
    status, reason = str(form.get("status", "")), str(form.get("reason", ""))
    return await _agency_action(
        request,
        lambda: dispatching.update_status(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, status, reason or None, request[USER]
        ),
        {"status": status, "reason": reason},
        validate_status(status, reason),
        "Status updated",
    )


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/report")
@require(AGENCY)
async def report_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    form = await request.post()
    text = str(form.get("report", ""))
    return await _agency_action(
        request,
        lambda: dispatching.file_report(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, text, request[USER]
        ),
        {"report": text},
        validate_report(text),
        "Field report sent",
    )
