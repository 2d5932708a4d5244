"""The OpenAPI 3 description of the JSON API, served at ``/api/openapi.json``.

Hand-written next to the handlers; a test checks that every registered API
route is described here and that nothing described is missing from the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ngcc112.routing.presence import BREAK_REASONS
from ngcc112.tickets.intake import CATEGORIES, VERDICTS

routes = web.RouteTableDef()

_ERROR = {"$ref": "#/components/schemas/Error"}
_INVALID = {"$ref": "#/components/schemas/Invalid"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusals(*codes: int) -> dict[str, Any]:
    text = {
        400: "The body is not a JSON object",
        401: "Not logged in",
        403: "Wrong role, missing or wrong CSRF token, or another operator's ticket",
        404: "No such ticket",
        409: "Not possible in the ticket's state",
        429: "Too many failed logins from this address, or too many logins waiting: wait as Retry-After says",
        502: "Asterisk refused the change",
        503: "Asterisk is not connected",
        504: "Asterisk did not answer in time",
    }
    out = {str(code): _json(_ERROR, text[code]) for code in codes}
    return out


#: A plain GET of a websocket address: aiohttp's own refusal, in plain text.
NOT_A_WEBSOCKET = {
    "400": {"description": "Not a websocket upgrade request", "content": {"text/plain": {"schema": {"type": "string"}}}}
}
_CSRF = [
    {
        "name": "X-CSRF-Token",
        "in": "header",
        "required": True,
        "description": "The session's CSRF token (GET /api/session)",
        "schema": {"type": "string"},
    }
]
#: Every id (path or body): what the tables hold; beyond it nothing is found (404 in a path).
ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
_TICKET_ID = [{"name": "ticket_id", "in": "path", "required": True, "schema": ID}]


def _unsafe(
    summary: str,
    body: dict[str, Any] | None,
    ok: dict[str, Any],
    *codes: int,
    params: list[dict[str, Any]] | None = None,
    invalid: bool = True,
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [*(params or []), *_CSRF],
        "responses": {"200": ok, **_refusals(*codes)},
    }
    if invalid:
        operation["responses"]["422"] = _json(_INVALID, "Invalid input: per-field errors, values kept")
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


_INTAKE_BODY = {"$ref": "#/components/schemas/IntakeInput"}
_TICKET_RESULT = _json(
    {
        "type": "object",
        "properties": {
            "ticket": {"$ref": "#/components/schemas/Ticket"},
            "state": {"type": "string"},
            "action": {"type": "string"},
        },
    },
    "The ticket after the change",
)


def spec() -> dict[str, Any]:
    ticket_ops = (401, 403, 404, 409, 400)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "ngcc112 operator panel API",
            "version": "1",
            "description": "Session-cookie authentication; every state-changing call needs the X-CSRF-Token header.",
        },
        "paths": {
            "/api/session": {
                "get": {
                    "summary": "Who is logged in, and the CSRF token",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Session"}, "Session")},
                },
                "post": _unsafe(
                    "Log in",
                    {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
                    },
                    _json({"$ref": "#/components/schemas/Session"}, "Logged in"),
                    400,
                    401,
                    403,
                    429,
                ),
                "delete": {
                    "summary": "Log out (an operator also leaves the queue)",
                    "parameters": _CSRF,
                    "responses": {"204": {"description": "Logged out"}, **_refusals(401, 403)},
                },
            },
            "/api/me/language": {
                "post": _unsafe(
                    "Choose the panel language",
                    {"type": "object", "properties": {"language": {"enum": ["id", "en"]}}},
                    _json({"type": "object"}, "Language set"),
                    400,
                    403,
                ),
            },
            "/api/me/state": {
                "get": {
                    "summary": "Presence and the operator's desk (ringing / active call with ticket); "
                    "fetched on every (re)connect",
                    "responses": {"200": _json({"$ref": "#/components/schemas/MyState"}, "State"), **_refusals(401)},
                },
            },
            "/api/me/presence": {
                "post": _unsafe(
                    "Go ready (QueueAdd), on break (QueuePause) or log out (QueueRemove)",
                    {
                        "type": "object",
                        "required": ["presence"],
                        "properties": {
                            "presence": {"enum": ["ready", "break", "logged_out"]},
                            "reason": {
                                "type": "string",
                                "description": "Read only with break, and then one of: " + ", ".join(BREAK_REASONS),
                            },
                        },
                    },
                    _json(
                        {"type": "object", "properties": {"presence": {"$ref": "#/components/schemas/Presence"}}},
                        "What Asterisk now reports",
                    ),
                    400,
                    401,
                    403,
                    502,
                    503,
                    504,
                ),
            },
            "/api/presence": {
                "get": {
                    "summary": "Every member of the operators' queue as Asterisk reports it",
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "queue": {"type": "string"},
                                    "synced": {"type": "boolean"},
                                    "members": {"type": "array", "items": {"$ref": "#/components/schemas/Presence"}},
                                },
                            },
                            "Presence board",
                        ),
                        **_refusals(401, 403),
                    },
                },
            },
            "/api/tickets": {
                "get": {
                    "summary": "Recent tickets, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "default": 50},
                            "description": "How many (newest first); brought into 1-200",
                        }
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "tickets": {"type": "array", "items": {"$ref": "#/components/schemas/Ticket"}}
                                },
                            },
                            "Tickets",
                        ),
                        **_refusals(401, 403),
                        "422": _json(_INVALID, "Bad limit"),
                    },
                },
            },
            "/api/tickets/{ticket_id}": {
                "get": {
                    "summary": "One ticket with its intake, number history and audit trail",
                    "parameters": _TICKET_ID,
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Ticket"}, "Ticket"),
                        **_refusals(401, 403, 404),
                    },
                },
            },
            "/api/tickets/{ticket_id}/intake": {
                "post": _unsafe(
                    "Save the intake typed so far (no state change)",
                    _INTAKE_BODY,
                    _TICKET_RESULT,
                    *ticket_ops,
                    params=_TICKET_ID,
                ),
            },
            "/api/tickets/{ticket_id}/draft": {
                "post": _unsafe(
                    "Keep the intake form as typed (any text, checked only for length; "
                    "no ticket change). Only the operator who answered, while the intake "
                    "is open or the ticket is with the dispatchers",
                    {"type": "object", "additionalProperties": {"type": "string"}},
                    _json(
                        {
                            "type": "object",
                            "properties": {
                                "ticket_id": {"type": "integer"},
                                "draft": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        },
                        "The whole draft now",
                    ),
                    400,
                    401,
                    403,
                    404,
                    409,
                    params=_TICKET_ID,
                ),
            },
            "/api/tickets/{ticket_id}/classify": {
                "post": _unsafe(
                    "Give the verdict with the intake (→ classified)",
                    _INTAKE_BODY,
                    _TICKET_RESULT,
                    *ticket_ops,
                    params=_TICKET_ID,
                ),
            },
            "/api/tickets/{ticket_id}/escalate": {
                "post": _unsafe(
                    "Hand a normal call to the dispatchers (classified → escalated)",
                    {"type": "object"},
                    _TICKET_RESULT,
                    *ticket_ops,
                    params=_TICKET_ID,
                ),
            },
            "/api/tickets/{ticket_id}/close": {
                "post": _unsafe(
                    "Close a ghost / prank / information call with a note (classified → closed)",
                    {
                        "type": "object",
                        "required": ["note"],
                        "properties": {"note": {"type": "string", "maxLength": 1000}},
                    },
                    _TICKET_RESULT,
                    *ticket_ops,
                    params=_TICKET_ID,
                ),
            },
            "/api/tickets/{ticket_id}/complete": {
                "post": _unsafe(
                    "Classify, then escalate (normal) or close (the others), atomically",
                    _INTAKE_BODY,
                    _TICKET_RESULT,
                    *ticket_ops,
                    params=_TICKET_ID,
                ),
            },
            "/api/openapi.json": {
                "get": {"summary": "This description", "responses": {"200": {"description": "OpenAPI 3"}}},
            },
            "/healthz": {
                "get": {
                    "summary": "Liveness: 200 within a second whatever is down; the body says what is degraded "
                    "(only 'status' unless asked by the center's monitoring, as /metrics)",
                    "responses": {"200": _json({"$ref": "#/components/schemas/Health"}, "Running")},
                },
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: 200 when logged in to Asterisk and the database answers, else 503",
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Health"}, "Ready"),
                        "503": _json({"$ref": "#/components/schemas/Health"}, "Not ready"),
                    },
                },
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text format), for [panel] metrics_allow or the "
                    "metrics token ('Authorization: Bearer …')",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        "403": _json(
                            {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                            "Not the center's monitoring",
                        ),
                    },
                },
            },
            "/ws": {
                "get": {
                    "summary": "Websocket: pushes {type: hello|presence|call|board|resync}; "
                    "fetch /api/me/state on each (re)connect",
                    "responses": {
                        "101": {"description": "Switching protocols"},
                        **_refusals(401, 403),
                        **NOT_A_WEBSOCKET,
                    },
                },
            },
        },
        "components": {"schemas": _schemas()},
    }


def _schemas() -> dict[str, Any]:
    string, nullable = {"type": "string"}, {"type": "string", "nullable": True}
    number = {"type": "number", "nullable": True}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": string,
                "code": string,
                "detail": {"type": "string", "description": "Why, in English"},
            },
        },
        "Invalid": {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "error": string,
                "code": string,
                "errors": {"type": "object", "additionalProperties": string},
                "values": {"type": "object"},
            },
        },
        "User": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "username": string,
                "display_name": string,
                "role": {"enum": ["operator", "dispatcher", "agency", "admin"]},
                "interface": nullable,
            },
        },
        "Session": {
            "type": "object",
            "properties": {
                "user": {"allOf": [{"$ref": "#/components/schemas/User"}], "nullable": True},
                "csrf_token": string,
                "language": string,
            },
        },
        "Presence": {
            "type": "object",
            "properties": {
                "interface": string,
                "member_name": string,
                "presence": {"enum": ["ready", "break", "logged_out"]},
                "label": string,
                "pause_reason": string,
                "device_status": {"type": "integer", "nullable": True},
                "at": string,
            },
        },
        "Call": {
            "type": "object",
            "nullable": True,
            "properties": {
                "call_id": string,
                "phase": {"enum": ["ringing", "connected"]},
                "since": string,
                "ended": {"type": "boolean"},
                "caller_number": nullable,
                "caller_name": nullable,
                "ticket": {"allOf": [{"$ref": "#/components/schemas/Ticket"}], "nullable": True},
            },
        },
        "MyState": {
            "type": "object",
            "properties": {
                "user": {"$ref": "#/components/schemas/User"},
                "presence": {"allOf": [{"$ref": "#/components/schemas/Presence"}], "nullable": True},
                "desk": {
                    "type": "object",
                    "nullable": True,
                    "properties": {
                        "ringing": {"$ref": "#/components/schemas/Call"},
                        "active": {"$ref": "#/components/schemas/Call"},
                        "live": {
                            "$ref": "#/components/schemas/Call",
                            "description": "The call the operator is on when another ticket's form is "
                            "on screen (?ticket=); the page shows it in its call bar",
                        },
                        "followup": {
                            "$ref": "#/components/schemas/Call",
                            "description": "The call still on the line after its ticket went to the "
                            "dispatchers (notes: POST /tickets/{id}/note)",
                        },
                        "pending": {
                            "type": "array",
                            "description": "Calls this operator answered whose intake "
                            "is not submitted yet, newest first",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "integer"},
                                    "caller_number": {"type": "string", "nullable": True},
                                    "caller_name": {"type": "string", "nullable": True},
                                    "answered_at": {"type": "string", "nullable": True},
                                    "ended": {"type": "boolean"},
                                    "drafted": {"type": "boolean"},
                                },
                            },
                        },
                    },
                },
                "ami_connected": {"type": "boolean"},
                "server_time": string,
            },
        },
        "IntakeInput": {
            "type": "object",
            "description": "Fields left out keep their saved value. Classifying needs "
            "verdict; normal also category, description and an address "
            "or coordinates; the others a closing note.",
            "properties": {
                "caller_name": string,
                "callback_number": string,
                "address": string,
                "latitude": {"type": "number", "minimum": -90, "maximum": 90},
                "longitude": {"type": "number", "minimum": -180, "maximum": 180},
                "category": {"enum": list(CATEGORIES)},
                "description": string,
                "verdict": {"enum": list(VERDICTS)},
                "note": string,
            },
        },
        "Ticket": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "linkedid": string,
                "state": string,
                "caller_number": nullable,
                "caller_name": nullable,
                "category": nullable,
                "verdict": nullable,
                "arrived_at": string,
                "answered_at": nullable,
                "silent_digit": nullable,
                "silent_call": {"type": "boolean"},
                "intake": {"type": "object"},
                "note": nullable,
                "location": {
                    "type": "object",
                    "nullable": True,
                    "properties": {
                        "latitude": number,
                        "longitude": number,
                        "radius_m": number,
                        "confidence_pct": number,
                        "method": nullable,
                        "raw": string,
                    },
                },
                "history": {"type": "array", "items": {"type": "object"}},
                "audit": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Health": {
            "type": "object",
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "ami": {"type": "object"},
                "database": {"type": "object"},
                "live_calls": {"type": "integer"},
                "websocket_clients": {"type": "integer"},
            },
        },
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
        document["components"]["schemas"].update(extra.get("components", {}).get("schemas", {}))
    return document


@routes.get("/api/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return web.json_response(app_spec(request.app))
