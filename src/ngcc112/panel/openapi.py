"""The OpenAPI 3.1 description of the JSON API, served at ``/api/openapi.json``.

Generated: the models of :mod:`ngcc112.panel.api_models` give the schemas, each module's route
table (:class:`~ngcc112.panel.openapi_routes.Route`) the operations — :data:`ROUTES` here for
:mod:`ngcc112.panel.api` and the operations endpoints. Other modules add theirs with
:func:`register`. Tests check the tables against the router, both ways.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.api_models import queries, session, tickets
from ngcc112.panel.api_models.fields import Empty
from ngcc112.panel.openapi_routes import NOT_A_WEBSOCKET, SWITCHING, Content, Route, describe, json
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()

OPERATOR, DISPATCHER, ADMIN = Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value
DESK = (OPERATOR, DISPATCHER, ADMIN)
INTAKE = (OPERATOR, DISPATCHER)
TICKET = {
    403: "Wrong role, missing or wrong CSRF token, or another operator's ticket",
    404: "No such ticket",
    409: "Not possible in the ticket's state",
}
_TICKET_OPS = (400, 401, 403, 404, 409, 422)
_RESULT = {200: json(tickets.TicketResult, "The ticket now, its state and what was done")}

ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/session", "Who is logged in, and the CSRF token", {200: json(session.Session, "Session")}),
    Route(
        "POST",
        "/api/session",
        "Log in",
        {200: json(session.Session, "Logged in")},
        (400, 401, 403, 422, 429),
        body=session.Login,
        texts={429: "Too many failed logins from this address, or too many logins waiting: wait as Retry-After says"},
    ),
    Route(
        "DELETE",
        "/api/session",
        "Log out (an operator also leaves the queue)",
        {204: Content("Logged out")},
        (401, 403),
    ),
    Route(
        "POST",
        "/api/me/language",
        "Choose the panel language",
        {200: json(session.LanguageSet, "Language set")},
        (400, 403, 422),
        body=session.LanguageChoice,
    ),
    Route(
        "POST",
        "/api/me/password",
        "Change my password: every session of mine ends, this one starts afresh (the answer carries its new "
        "CSRF token)",
        {200: json(session.PasswordChanged, "Changed")},
        (400, 401, 403, 422, 429),
        body=session.PasswordChange,
        texts={
            422: "Fields to correct (the current password is wrong, the new one too short)",
            429: "Too many attempts; see Retry-After",
        },
    ),
    Route(
        "GET",
        "/api/me/state",
        "Presence and the operator's desk (ringing / active call with ticket); fetched on every (re)connect",
        {200: json(session.MyState, "State")},
        (401,),
    ),
    Route(
        "POST",
        "/api/me/presence",
        "Go ready (QueueAdd), on break (QueuePause) or log out (QueueRemove)",
        {200: json(session.PresenceAnswer, "What Asterisk now reports")},
        (400, 401, 403, 409, 422, 502, 503, 504),
        roles=(OPERATOR,),
        body=session.PresenceChange,
        texts={409: "This account has no (valid) softphone interface"},
    ),
    Route(
        "GET",
        "/api/presence",
        "Every member of the operators' queue as Asterisk reports it",
        {200: json(session.PresenceBoard, "Presence board")},
        (401, 403),
        roles=DESK,
    ),
    Route(
        "GET",
        "/api/tickets",
        "Recent tickets, newest first",
        {200: json(tickets.TicketList, "Tickets")},
        (401, 403, 422),
        roles=DESK,
        query=tickets.TicketsQuery,
    ),
    Route(
        "GET",
        "/api/tickets/{ticket_id}",
        "One ticket with its intake, number history and audit trail",
        {200: json(tickets.Ticket, "Ticket")},
        (401, 403, 404),
        roles=DESK,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/intake",
        "Save the intake typed so far (no state change)",
        _RESULT,
        _TICKET_OPS,
        roles=INTAKE,
        body=tickets.IntakeInput,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/draft",
        "Keep the intake form as typed (any text, checked only for length; no ticket change). Only the "
        "operator who answered, while the intake is open or the ticket is with the dispatchers",
        {200: json(tickets.DraftSaved, "The whole draft now")},
        (400, 401, 403, 404, 409, 422),
        roles=(OPERATOR,),
        body=tickets.Draft,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/classify",
        "Give the verdict with the intake (→ classified)",
        _RESULT,
        _TICKET_OPS,
        roles=INTAKE,
        body=tickets.IntakeInput,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/escalate",
        "Hand a normal call to the dispatchers (classified → escalated)",
        _RESULT,
        _TICKET_OPS,
        roles=INTAKE,
        body=Empty,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/close",
        "Close a ghost / prank / information call with a note (classified → closed)",
        _RESULT,
        _TICKET_OPS,
        roles=INTAKE,
        body=tickets.CloseNote,
        texts=TICKET,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/complete",
        "Classify, then escalate (normal) or close (the others), atomically",
        _RESULT,
        _TICKET_OPS,
        roles=INTAKE,
        body=tickets.IntakeInput,
        texts=TICKET,
    ),
    Route("GET", "/api/openapi.json", "This description", {200: Content("OpenAPI 3.1")}),
    Route(
        "GET",
        "/healthz",
        "Liveness: 200 within a second whatever is down; the body says what is degraded "
        "(only 'status' unless asked by the center's monitoring, as /metrics)",
        {200: json(session.Health, "Running")},
    ),
    Route(
        "GET",
        "/readyz",
        "Readiness: 200 when logged in to Asterisk and the database answers, else 503",
        {200: json(session.Health, "Ready"), 503: json(session.Health, "Not ready")},
    ),
    Route(
        "GET",
        "/metrics",
        "Prometheus metrics (text format), for [panel] metrics_allow or the metrics token ('Authorization: Bearer …')",
        {
            200: Content("Prometheus text exposition", media_type="text/plain", schema={"type": "string"}),
            403: json(session.MetricsRefused, "Not the center's monitoring"),
        },
    ),
    Route(
        "GET",
        "/ws",
        "Websocket, one channel of the live hub per socket. channel=desk (the operator desk and the room's "
        "board): pushes {type: hello|presence|call|board|resync}; fetch /api/me/state on each (re)connect. "
        "channel=dispatch (the dispatch, callbacks and agency pages): pushes {type: hello|resync}, {type: board, "
        "what: [queue|operators|tickets], ticket_ids: [...]} to staff and {type: dispatch, ticket_ids: [...]} "
        "to an agency user, only for tickets dispatched to their agency; changes are gathered for 0.1 s; "
        "fetch the page again on each (re)connect.",
        {101: SWITCHING, 400: NOT_A_WEBSOCKET},
        (401, 403, 422),
        query=queries.LiveQuery,
    ),
)


def spec() -> dict[str, Any]:
    """The description of :mod:`ngcc112.panel.api` (and the operations endpoints) on its own."""
    described = describe(ROUTES)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ngcc112 operator panel API",
            "version": "1",
            "description": "Session-cookie authentication; every state-changing call needs the X-CSRF-Token header.",
        },
        **described,
    }


#: More of the API described by other panel modules mounted on the same app: each callable
#: returns ``{"paths": {...}, "components": {"schemas": {...}}}`` merged into :func:`spec`.
EXTRA = web.AppKey("ngcc112_openapi_extra", list)


def register(app: web.Application, fragment: Callable[[], dict[str, Any]]) -> None:
    """Add a module's routes to the served description (call before the app starts)."""
    app.setdefault(EXTRA, []).append(fragment)


def app_spec(app: web.Application) -> dict[str, Any]:
    """The whole description of this app: :func:`spec` plus every registered fragment."""
    document = spec()
    for fragment in app.get(EXTRA, []):
        extra = fragment()
        for path, operations in extra.get("paths", {}).items():
            document["paths"].setdefault(path, {}).update(operations)
        for name, schema in extra.get("components", {}).get("schemas", {}).items():
            document["components"]["schemas"].setdefault(name, schema)
    return document


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(app_spec(request.app))
