"""Where the caller is: the position page, its fragment and its forms, as the browser without JavaScript uses them.

* ``GET  /panel/tickets/{id}/location`` — the fixes as an HTML fragment (what ``map.js``
  puts beside the map and draws on it).
* ``GET  /tickets/{id}/location`` and the form posts ``…/location/accept`` and
  ``…/location/manual`` — the same without JavaScript, with the panel's CSRF token.

Who may: operators, dispatchers and admins on every ticket; agency users only on tickets
dispatched to their agency (anything else is 404, as :func:`get_ticket_for` decides).
Labels are in ``locale/<lang>/LC_MESSAGES/location.po``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel import form_memory
from ngcc112.panel.auth import require
from ngcc112.panel.location.access import ROLES, Refused, accept_fix, add_manual_fix, refusal_response, ticket_for
from ngcc112.panel.location.labels import _
from ngcc112.panel.location.manual import FIELDS, ManualInvalid, validate_manual
from ngcc112.panel.location.present import location_state, template_values
from ngcc112.panel.rendering import render, safe_next
from ngcc112.panel.state import PANEL, ticket_view
from ngcc112.tickets.models import Ticket

routes = web.RouteTableDef()


@routes.get("/panel/tickets/{ticket_id:\\d+}/location")
@require(*ROLES)
async def fixes_fragment(request: web.Request) -> web.StreamResponse:
    """The fixes as HTML (list, candidate banner, accept buttons, map data) for ``map.js``."""
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
    except Refused as refused:
        return await refusal_response(request, refused)
    values = await template_values(request, await location_state(request, ticket))
    # ?readonly=1: the agency's page shows the position; accepting one is the 112 center's.
    values["loc"]["readonly"] = request.query.get("readonly") == "1"
    return await render(request, "location/_fixes.html", values)


async def location_page(
    request: web.Request,
    ticket: Ticket,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    panel = request.app[PANEL]
    state = await location_state(request, ticket)
    return await render(
        request,
        "location/page.html",
        {
            **await template_values(request, state),
            "t": await ticket_view(panel, ticket, history=False),
            "loc_errors": errors or {},
            "loc_values": values or {},
            "loc_message": message,
        },
        status=status,
    )


@routes.get("/tickets/{ticket_id:\\d+}/location", name="ticket_location")
@require(*ROLES)
async def page(request: web.Request) -> web.StreamResponse:
    """The ticket's position on its own page (map, every fix, the manual form)."""
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
    except Refused as refused:
        return await refusal_response(request, refused)
    kept = form_memory.recall(request, _form_key(ticket.id))
    if kept is None:
        return await location_page(request, ticket)
    errors = dict(kept.errors)
    message = errors.pop(form_memory.FORM, None)
    return await location_page(request, ticket, errors=errors, values=kept.values, message=message)


def _form_key(ticket_id: int) -> str:
    return f"location-{ticket_id}"


def _refused_form(
    request: web.Request, ticket_id: int, values: dict[str, str], errors: dict[str, str], message: str
) -> web.HTTPSeeOther:
    """Post/redirect/get: the location page shows what was typed and why it was refused."""
    form_memory.remember(request, _form_key(ticket_id), values, {**errors, form_memory.FORM: message})
    return web.HTTPSeeOther(f"/tickets/{ticket_id}/location")


def _back(form: Any, ticket_id: int) -> str:
    """Where a form post goes on success: its ``next`` (same site only), else the location page."""
    wanted = str(form.get("next") or "")
    return safe_next(wanted) if wanted else f"/tickets/{ticket_id}/location"


@routes.post("/tickets/{ticket_id:\\d+}/location/accept")
@require(*ROLES)
async def accept_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ticket_id = int(request.match_info["ticket_id"])
    try:
        ticket = await ticket_for(request, ticket_id)
    except Refused as refused:
        return await refusal_response(request, refused)
    try:
        await accept_fix(request, ticket, form.get("fix_id", ""))
    except Refused as refused:
        if refused.status == 404:
            return await refusal_response(request, refused)
        raise _refused_form(request, ticket.id, {}, {}, refused.message) from None
    raise web.HTTPSeeOther(_back(form, ticket_id))


@routes.post("/tickets/{ticket_id:\\d+}/location/manual")
@require(*ROLES)
async def manual_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ticket_id = int(request.match_info["ticket_id"])
    try:
        ticket = await ticket_for(request, ticket_id)
    except Refused as refused:
        return await refusal_response(request, refused)
    raw = {key: str(form.get(key, "")) for key in (*FIELDS, "radius_m")}
    try:
        await add_manual_fix(request, ticket, validate_manual(raw))
    except ManualInvalid as exc:
        raise _refused_form(request, ticket.id, exc.values, exc.errors, _("Please correct the marked fields")) from None
    except Refused as refused:
        if refused.status == 404:
            return await refusal_response(request, refused)
        raise _refused_form(request, ticket.id, raw, {}, refused.message) from None
    raise web.HTTPSeeOther(_back(form, ticket_id))
