"""The route table of the location API (:mod:`ngcc112.panel.location.api`).

``PATHS`` and ``SCHEMAS`` are generated from :data:`ROUTES` and the models of
:mod:`ngcc112.panel.api_models.location`; ``ngcc112.panel.location.setup`` registers them with
:func:`ngcc112.panel.openapi.register`, so ``/api/openapi.json`` serves them. A test checks that
every ``/api/`` route the module registers is described here and the reverse.
"""

from __future__ import annotations

from typing import Any

from ngcc112.panel.api_models import location
from ngcc112.panel.openapi_routes import Route, describe, json
from ngcc112.tickets.states import Role

#: Everyone who handles a ticket; agency users only for tickets dispatched to their agency.
ROLES = tuple(r.value for r in (Role.OPERATOR, Role.DISPATCHER, Role.ADMIN, Role.AGENCY))
BOARD_ROLES = ROLES[:3]
TEXTS = {
    403: "Wrong role, or missing or wrong CSRF token",
    404: "No such ticket or fix — or a ticket not dispatched to this agency user's agency",
    409: "The fix can no longer be accepted (replaced meanwhile), or the position could not be stored",
    422: "Invalid input: per-field messages in the panel's language, the values exactly as sent",
}

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/api/tickets/{ticket_id}/location",
        "The ticket's positions (SIP, AML, manual) and its ghost/prank scores with reasons",
        {200: json(location.LocationState, "Fixes and scores")},
        (401, 403, 404),
        roles=ROLES,
        texts=TEXTS,
        description="Agency users only for tickets dispatched to their agency.",
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/location/accept",
        "Accept a candidate fix with one click (it becomes the ticket's position)",
        {200: json(location.LocationState, "The positions after the change; 'fix' is the accepted one")},
        (400, 401, 403, 404, 409, 422),
        roles=ROLES,
        body=location.AcceptFix,
        texts=TEXTS,
    ),
    Route(
        "POST",
        "/api/tickets/{ticket_id}/location/manual",
        "Set the position by hand (coordinates and an optional address); it is accepted at once",
        {200: json(location.LocationState, "The positions after the change; 'fix' is the new one")},
        (400, 401, 403, 404, 409, 422),
        roles=ROLES,
        body=location.ManualFixInput,
        texts=TEXTS,
    ),
    Route(
        "GET",
        "/api/location/board",
        "The accepted position of every open incident (escalated to reported), newest first",
        {200: json(location.LocationBoard, "Open incidents with a position")},
        (401, 403),
        roles=BOARD_ROLES,
        texts=TEXTS,
    ),
)

_DESCRIBED = describe(ROUTES)
PATHS: dict[str, Any] = _DESCRIBED["paths"]
SCHEMAS: dict[str, Any] = _DESCRIBED["components"]["schemas"]
