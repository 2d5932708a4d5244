"""The location JSON API: a ticket's fixes and scores, accepting a candidate, the operator's own
position, and the board map's accepted positions. Mounted by :func:`ngcc112.panel.location.setup`.

* ``GET  /api/tickets/{id}/location`` — the ticket's fixes (accepted one, candidates),
  its ghost/prank scores with their reasons in the request's language, as JSON.
* ``POST /api/tickets/{id}/location/accept`` — ``{"fix_id": N}``: one click accepts a
  candidate (an automatic fix never replaces an accepted one by itself, it waits as a candidate).
* ``POST /api/tickets/{id}/location/manual`` — ``{"latitude", "longitude", "address"}``:
  the operator's own position; 422 with per-field messages and the values as typed.
* ``GET  /api/location/board`` — the accepted position of every open incident, for the
  dispatcher's board map.
"""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.auth import require
from ngcc112.panel.api_models.location import AcceptFix, ManualFixInput
from ngcc112.panel.api_models.read import read_model
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.location.access import (
    BOARD_ROLES,
    ROLES,
    Refused,
    accept_fix,
    add_manual_fix,
    board_state,
    refusal_response,
    ticket_for,
)
from ngcc112.panel.location.manual import ManualInvalid, invalid_json, validate_manual
from ngcc112.panel.location.present import location_state

routes = web.RouteTableDef()


@routes.get("/api/tickets/{ticket_id:\\d+}/location")
@require(*ROLES)
async def api_location(request: web.Request) -> web.StreamResponse:
    """The ticket's fixes and scores."""
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
    except Refused as refused:
        return await refusal_response(request, refused)
    return web.json_response(await location_state(request, ticket))


@routes.post("/api/tickets/{ticket_id:\\d+}/location/accept")
@require(*ROLES)
async def api_accept(request: web.Request) -> web.StreamResponse:
    """One click: the candidate ``fix_id`` becomes the ticket's position."""
    try:
        accept = await read_model(request, AcceptFix)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
        view = await accept_fix(request, ticket, accept.fix_id)
    except Refused as refused:
        return await refusal_response(request, refused)
    state = await location_state(request, ticket)
    return web.json_response({**state, "fix": next(f for f in state["fixes"] if f["id"] == view.id)})


@routes.post("/api/tickets/{ticket_id:\\d+}/location/manual")
@require(*ROLES)
async def api_manual(request: web.Request) -> web.StreamResponse:
    """The operator's own position (becomes the accepted one)."""
    try:
        typed = await read_model(request, ManualFixInput)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
        manual = validate_manual(typed.model_dump(exclude_unset=True))
        view = await add_manual_fix(request, ticket, manual)
    except Refused as refused:
        return await refusal_response(request, refused)
    except ManualInvalid as exc:
        return invalid_json(request, exc)
    state = await location_state(request, ticket)
    return web.json_response({**state, "fix": next(f for f in state["fixes"] if f["id"] == view.id)})


@routes.get("/api/location/board")
@require(*BOARD_ROLES)
async def api_board(request: web.Request) -> web.StreamResponse:
    """The accepted position of every open incident (escalated … reported), newest first."""
    return web.json_response(await board_state(request))
