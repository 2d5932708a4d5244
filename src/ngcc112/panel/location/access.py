"""Who may see a ticket's position, and the use cases the pages and the JSON API share: accept a
candidate, add a manual position (never on a closed ticket), the board map's positions.
:class:`Refused` carries the HTTP status, message and code of a refusal."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel.auth import error_response, wants_json
from ngcc112.panel.bodies import parse_id
from ngcc112.panel.location.labels import _
from ngcc112.panel.location.manual import ManualFix
from ngcc112.panel.location.present import utc_now
from ngcc112.panel.location.service import locations_of
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.locations import (
    FixView,
    LocationError,
)
from ngcc112.tickets.models import Ticket, User
from ngcc112.tickets.positions import board_positions, find_ticket, position_may_change
from ngcc112.tickets.states import Role

#: Everyone who handles a ticket; agency users are narrowed to their own tickets.
ROLES = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value, Role.AGENCY.value)
#: The board map is the room's view: not for agency users.
BOARD_ROLES = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value)


class Refused(Exception):
    """``field``: the field a 422 is about (the API names it, as every 422 of the API does)."""

    def __init__(self, status: int, message: str, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.field = status, message, code, field


async def ticket_for(request: web.Request, ticket_id: int) -> Ticket:
    """The ticket if this user may see it; :class:`Refused` (404) otherwise — an agency user is
    told nothing about tickets not dispatched to their agency."""
    user: User = request[USER]
    sessions = request.app[PANEL].services.sessions
    if user.role == Role.AGENCY.value:
        try:
            return (await dispatching.get_ticket_for(sessions, user, ticket_id)).ticket
        except dispatching.NotFoundOrForbidden:
            raise Refused(404, _("Not found"), "not_found") from None
    ticket = await find_ticket(sessions, ticket_id)
    if ticket is None:
        raise Refused(404, _("Not found"), "not_found")
    return ticket


async def refusal_response(request: web.Request, refused: Refused) -> web.Response:
    if refused.field is not None and wants_json(request):
        translate = request[GETTEXT]
        return web.json_response(
            {
                "error": translate(_("Please correct the marked fields")),
                "code": refused.code,
                "errors": {refused.field: translate(refused.message)},
                "values": {},
            },
            status=refused.status,
        )
    return await error_response(request, refused.status, refused.message, code=refused.code)


def _check_open(ticket: Ticket) -> None:
    if not position_may_change(ticket):
        raise Refused(409, _("The ticket is closed: its position can no longer change"), "closed")


async def accept_fix(request: web.Request, ticket: Ticket, raw_fix_id: Any) -> FixView:
    _check_open(ticket)
    fix_id = parse_id(raw_fix_id)
    if fix_id is None:  # not an id, or beyond any row's
        raise Refused(422, _("Choose a position to accept"), "invalid", "fix_id")
    locations = locations_of(request.app)
    if not any(v.id == fix_id for v in await locations.fixes_for(ticket.id)):
        raise Refused(404, _("Not found"), "not_found")
    user: User = request[USER]
    try:
        return await locations.accept_fix(fix_id, user.username)
    except LocationError:
        raise Refused(409, _("This position can no longer be accepted: the list was updated"), "conflict") from None


async def add_manual_fix(request: web.Request, ticket: Ticket, manual: ManualFix) -> FixView:
    _check_open(ticket)
    user: User = request[USER]
    try:
        return await locations_of(request.app).add_manual_fix(
            ticket.id, manual.latitude, manual.longitude, manual.address, user.username, radius_m=manual.radius_m
        )
    except LocationError:
        raise Refused(409, _("The position could not be stored"), "conflict") from None


async def board_state(request: web.Request) -> dict[str, Any]:
    positions = await board_positions(request.app[PANEL].services.sessions)
    now = utc_now()
    items = [
        {
            "ticket_id": p.ticket_id,
            "state": p.state,
            "category": p.category,
            "source": p.source,
            "latitude": p.latitude,
            "longitude": p.longitude,
            "radius_m": p.radius_m,
            "time": p.time.isoformat(),
            "age_seconds": round((now - p.time).total_seconds(), 1),
        }
        for p in positions
    ]
    return {"server_now": now.isoformat(), "incidents": items}
