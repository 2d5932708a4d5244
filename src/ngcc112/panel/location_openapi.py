"""OpenAPI 3 paths of the location API (:mod:`.location_views`).

``PATHS`` has the structure of ``spec()["paths"]`` in :mod:`ngcc112.panel.openapi` and uses its
components (``Error``, ``Invalid``); ``SCHEMAS`` adds this API's own. ``location_views.setup``
registers both with :func:`ngcc112.panel.openapi.register`, so ``/api/openapi.json`` serves them.
A test checks that every ``/api/`` route the module registers is described here and the reverse.
"""

from __future__ import annotations

from typing import Any

from ngcc112.panel.openapi import ID

_ERROR = {"$ref": "#/components/schemas/Error"}
_INVALID = {"$ref": "#/components/schemas/Invalid"}
_STATE = {"$ref": "#/components/schemas/LocationState"}
_CSRF = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": True,
    "description": "The session's CSRF token (GET /api/session)",
    "schema": {"type": "string"},
}
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": ID}
_TEXT = {
    400: "The body is not a JSON object",
    401: "Not logged in",
    403: "Wrong role, or missing or wrong CSRF token",
    404: "No such ticket or fix — or a ticket not dispatched to this agency user's agency",
    409: "The fix can no longer be accepted (replaced meanwhile), or the position could not be stored",
    422: "Invalid input: per-field messages in the panel's language, the values exactly as sent",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusals(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_INVALID if code == 422 else _ERROR, _TEXT[code]) for code in codes}


_nullable_number = {"type": "number", "nullable": True}
_string = {"type": "string"}

SCHEMAS: dict[str, Any] = {
    "LocationFix": {
        "type": "object",
        "required": ["id", "source", "latitude", "longitude", "accepted"],
        "properties": {
            "id": {"type": "integer"},
            "ticket_id": {"type": "integer"},
            "source": {
                "enum": ["sip", "aml", "manual"],
                "description": "SIP Geolocation (network), AML (handset), or typed by a person "
                "(operator, dispatcher or admin: created_by)",
            },
            "latitude": {"type": "number", "minimum": -90, "maximum": 90},
            "longitude": {"type": "number", "minimum": -180, "maximum": 180},
            "radius_m": {**_nullable_number, "description": "Uncertainty radius in metres"},
            "confidence_pct": {**_nullable_number, "description": "Probability (%) the caller is inside"},
            "method": {"type": "string", "nullable": True},
            "address": {"type": "string", "nullable": True, "description": "What the operator typed"},
            "time": {"type": "string", "format": "date-time", "description": "When the position was determined"},
            "age_seconds": {"type": "number", "description": "Server time minus the fix's time"},
            "accepted": {"type": "boolean", "description": "The ticket's position (at most one)"},
            "accepted_by": {"type": "string", "nullable": True},
            "accepted_at": {"type": "string", "format": "date-time", "nullable": True},
            "candidate": {"type": "boolean", "description": "Automatic, not accepted: one click away"},
            "new": {
                "type": "boolean",
                "description": 'A candidate newer than the accepted position ("new position — accept?")',
            },
            "superseded": {"type": "boolean", "description": "An operator's position replaced by a later one"},
            "created_by": _string,
        },
    },
    "ScoreReason": {
        "type": "object",
        "properties": {
            "score": {"enum": ["ghost", "prank", "real"]},
            "code": _string,
            "text": {"type": "string", "description": "In the request's language (id or en)"},
            "weight": _nullable_number,
        },
    },
    "LocationState": {
        "type": "object",
        "properties": {
            "ticket_id": {"type": "integer"},
            "state": _string,
            "server_now": {"type": "string", "format": "date-time"},
            "accepted": {"allOf": [{"$ref": "#/components/schemas/LocationFix"}], "nullable": True},
            "candidates": {"type": "array", "items": {"type": "integer"}},
            "fixes": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/LocationFix"},
                "description": "Accepted first, then candidates newest first, then replaced ones",
            },
            "scores": {
                "type": "object",
                "properties": {
                    "ghost": {**_nullable_number, "minimum": 0, "maximum": 1},
                    "prank": {**_nullable_number, "minimum": 0, "maximum": 1},
                    "reasons": {"type": "array", "items": {"$ref": "#/components/schemas/ScoreReason"}},
                },
            },
            "silent_call": {"type": "boolean", "description": "The caller pressed 5 at the prompt"},
            "fix": {
                "$ref": "#/components/schemas/LocationFix",
                "description": "After accept/manual: the fix that is now the position",
            },
        },
    },
    "ManualFixInput": {
        "type": "object",
        "required": ["latitude", "longitude"],
        "properties": {
            "latitude": {
                "type": "string",
                "example": "-6.91470",
                "description": "Decimal degrees; a decimal comma is accepted; "
                '"lat, lon" here with an empty longitude is split',
            },
            "longitude": {"type": "string", "example": "107.60980"},
            "address": {"type": "string", "maxLength": 500},
            "radius_m": {"type": "string", "description": "Optional accuracy in metres"},
        },
    },
    "BoardIncident": {
        "type": "object",
        "properties": {
            "ticket_id": {"type": "integer"},
            "state": _string,
            "category": {"type": "string", "nullable": True},
            "source": {"enum": ["sip", "aml", "manual"]},
            "latitude": {"type": "number"},
            "longitude": {"type": "number"},
            "radius_m": _nullable_number,
            "time": {"type": "string", "format": "date-time"},
            "age_seconds": {"type": "number"},
        },
    },
}

PATHS: dict[str, Any] = {
    "/api/tickets/{ticket_id}/location": {
        "get": {
            "summary": "The ticket's positions (SIP, AML, manual) and its ghost/prank scores with reasons",
            "description": "Operators, dispatchers, admins; agency users only for tickets dispatched to their agency.",
            "parameters": [_TICKET_ID],
            "responses": {"200": _json(_STATE, "Fixes and scores"), **_refusals(401, 403, 404)},
        },
    },
    "/api/tickets/{ticket_id}/location/accept": {
        "post": {
            "summary": "Accept a candidate fix with one click (it becomes the ticket's position)",
            "parameters": [_TICKET_ID, _CSRF],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"type": "object", "required": ["fix_id"], "properties": {"fix_id": ID}}
                    }
                },
            },
            "responses": {
                "200": _json(_STATE, "The positions after the change; 'fix' is the accepted one"),
                **_refusals(400, 401, 403, 404, 409, 422),
            },
        },
    },
    "/api/tickets/{ticket_id}/location/manual": {
        "post": {
            "summary": "Set the position by hand (coordinates and an optional address); it is accepted at once",
            "parameters": [_TICKET_ID, _CSRF],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ManualFixInput"}}},
            },
            "responses": {
                "200": _json(_STATE, "The positions after the change; 'fix' is the new one"),
                **_refusals(400, 401, 403, 404, 409, 422),
            },
        },
    },
    "/api/location/board": {
        "get": {
            "summary": "The accepted position of every open incident (escalated to reported), newest first",
            "description": "Operators, dispatchers and admins (not agency users).",
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "server_now": {"type": "string", "format": "date-time"},
                            "incidents": {"type": "array", "items": {"$ref": "#/components/schemas/BoardIncident"}},
                        },
                    },
                    "Open incidents with a position",
                ),
                **_refusals(401, 403),
            },
        },
    },
}
