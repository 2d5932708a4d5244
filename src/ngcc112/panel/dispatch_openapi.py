"""OpenAPI 3 paths of the dispatch, agency, reports and admin API (:mod:`.dispatch_api`).

``PATHS`` has the structure of ``spec()["paths"]`` in :mod:`ngcc112.panel.openapi` and uses
its components (``Error``, ``Invalid``, ``Ticket``, ``Presence``); ``SCHEMAS`` adds this
API's own components. Merge both into the served description::

    document = openapi.spec()
    document["paths"].update(dispatch_openapi.PATHS)
    document["components"]["schemas"].update(dispatch_openapi.SCHEMAS)

A test checks that every route :mod:`.dispatch_api` registers is described here and
that nothing described here is missing from the app.
"""

from __future__ import annotations

from typing import Any

from ngcc112.panel.openapi import ID, NOT_A_WEBSOCKET
from ngcc112.tickets.agencies import AGENCY_KINDS
from ngcc112.tickets.dispatch import STATUS_UPDATES, DispatchStatus
from ngcc112.tickets.users import USER_ROLES

_ERROR = {"$ref": "#/components/schemas/Error"}
_INVALID = {"$ref": "#/components/schemas/Invalid"}
_CSRF = {
    "name": "X-CSRF-Token",
    "in": "header",
    "required": True,
    "description": "The session's CSRF token (GET /api/session)",
    "schema": {"type": "string"},
}
_TICKET_ID = {"name": "ticket_id", "in": "path", "required": True, "schema": ID}
_DISPATCH_ID = {"name": "dispatch_id", "in": "path", "required": True, "schema": ID}
_USER_ID = {"name": "user_id", "in": "path", "required": True, "schema": ID}
_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}
#: A report day, YYYY-MM-DD from 2000-01-01 to 2099-12-31; empty (as a form sends it): the default.
_DAY = {"anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]}
_RANGE = [
    {
        "name": "start",
        "in": "query",
        "schema": _DAY,
        "description": "First day (local, 2000-01-01 to 2099-12-31); default: six days before the end",
    },
    {"name": "end", "in": "query", "schema": _DAY, "description": "Last day (local), included; default: today"},
    {
        "name": "tz",
        "in": "query",
        "schema": {"type": "string", "default": "Asia/Jakarta"},
        "description": "IANA time zone the days and hours are counted in",
    },
]
_SEARCH = [
    {
        "name": "number",
        "in": "query",
        "schema": {"type": "string", "maxLength": 32, "pattern": "^[0-9+ -]*$"},
        "description": "Part of the caller's number",
    },
    {"name": "state", "in": "query", "schema": {"type": "string"}, "description": "A ticket state (e.g. closed)"},
    {
        "name": "verdict",
        "in": "query",
        "schema": {"type": "string"},
        "description": "normal, ghost, prank or information",
    },
    {
        "name": "agency",
        "in": "query",
        "schema": {"type": "string"},
        "description": "An agency code: tickets dispatched to it",
    },
    {
        "name": "start",
        "in": "query",
        "schema": _DAY,
        "description": "First day of arrival (the center's time zone), included",
    },
    {
        "name": "end",
        "in": "query",
        "schema": _DAY,
        "description": "Last day of arrival (the center's time zone), included",
    },
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
]
_TEXT = {
    400: "The body is not a JSON object",
    401: "Not logged in",
    403: "Wrong role, or missing or wrong CSRF token",
    404: "No such ticket / dispatch / user / agency — or not this user's to see (another agency's)",
    409: "The state table refuses it now (the reason is in 'error')",
    502: "Asterisk refused the Originate",
    503: "Asterisk is not connected; nothing was sent",
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refusals(*codes: int) -> dict[str, Any]:
    return {str(code): _json(_ERROR, _TEXT[code]) for code in codes}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _get(
    summary: str, ok: dict[str, Any], *codes: int, params: list[dict[str, Any]] | None = None, invalid: bool = False
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "responses": {"200": ok, **_refusals(*codes)}}
    if params:
        operation["parameters"] = params
    if invalid:
        operation["responses"]["422"] = _json(_INVALID, "Invalid query: per-field errors, values kept")
    return operation


def _post(
    summary: str,
    body: dict[str, Any] | None,
    ok: dict[str, Any],
    *codes: int,
    params: list[dict[str, Any]] | None = None,
    status: str = "200",
) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "parameters": [*(params or []), _CSRF],
        "responses": {
            status: ok,
            **_refusals(*codes),
            "422": _json(_INVALID, "Invalid input: per-field errors, values kept"),
        },
    }
    if body is not None:
        operation["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return operation


_STATUS_BODY = {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"enum": [s.value for s in STATUS_UPDATES]},
        "reason": {"type": "string", "maxLength": 2000, "description": "Required for cannot_handle"},
    },
}
_REPORT_BODY = {
    "type": "object",
    "required": ["report"],
    "properties": {"report": {"type": "string", "minLength": 1, "maxLength": 10000}},
}
_DISPATCH_RESULT = _json({"type": "object", "properties": {"dispatch": _ref("Dispatch")}}, "The dispatch now")
_TICKET_RESULT = _json(_ref("DispatchTicket"), "The ticket now, with its dispatches and audit trail")

PATHS: dict[str, Any] = {
    "/api/dispatch/board": {
        "get": _get(
            "The dispatcher board: what needs the dispatcher first ('attention': awaiting dispatch, "
            "an agency that cannot handle, dispatches overdue for acknowledgement or arrival against "
            "the [sla] acknowledge / arrival targets), waiting calls, operators, escalated tickets, "
            "dispatched incidents with each agency's status, abandoned calls to call back; 'overdue' "
            "marks what is past its SLA target",
            _json(_ref("Board"), "Board"),
            401,
            403,
        ),
    },
    "/api/dispatch/tickets": {
        "get": _get(
            "Find tickets: every filter optional, newest first, 50 a page (as /dispatch/tickets; "
            "the same filters give /dispatch/tickets.csv, one row per ticket)",
            _json(
                {
                    "type": "object",
                    "properties": {
                        "tickets": {"type": "array", "items": _ref("TicketFound")},
                        "total": {"type": "integer"},
                        "page": {"type": "integer"},
                        "pages": {"type": "integer"},
                        "page_size": {"type": "integer"},
                    },
                },
                "One page of tickets",
            ),
            401,
            403,
            params=_SEARCH,
            invalid=True,
        ),
    },
    "/api/dispatch/tickets/{ticket_id}": {
        "get": _get(
            "One ticket with every dispatch, its audit trail and what the dispatcher may do",
            _TICKET_RESULT,
            401,
            403,
            404,
            params=[_TICKET_ID],
        ),
    },
    "/api/dispatch/tickets/{ticket_id}/dispatch": {
        "post": _post(
            "Forward the ticket to agencies (escalated → dispatched; more agencies while they work)",
            {
                "type": "object",
                "required": ["agencies"],
                "properties": {
                    "agencies": {
                        "type": "array",
                        "minItems": 1,
                        "items": {"type": "string"},
                        "description": "Agency codes",
                    },
                    "instructions": {"type": "string", "maxLength": 4000},
                },
            },
            _TICKET_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_TICKET_ID],
        ),
    },
    "/api/dispatch/tickets/{ticket_id}/close": {
        "post": _post(
            "Close Ticket: when every agency has reported, or earlier with an override reason (audited)",
            {"type": "object", "properties": {"override_reason": {"type": "string", "maxLength": 2000}}},
            _TICKET_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_TICKET_ID],
        ),
    },
    "/api/dispatch/callbacks": {
        "get": _get(
            "Abandoned calls of the last 24 hours to call back, with every callback made on each "
            "(operators, dispatchers, admins)",
            _json(
                {
                    "type": "object",
                    "properties": {
                        "callbacks": {"type": "array", "items": {"type": "object"}},
                        "ami_connected": {"type": "boolean"},
                        "server_time": {"type": "string"},
                    },
                },
                "Callback candidates",
            ),
            401,
            403,
        ),
    },
    "/api/dispatch/tickets/{ticket_id}/callback": {
        "post": _post(
            "Call the caller back: ONE Originate (Async) from the user's softphone into the "
            "operators' context; audited with its ActionID. A request_id already used is refused.",
            {"type": "object", "properties": {"request_id": {"type": "string", "maxLength": 100}}},
            _json(
                {"type": "object", "properties": {"callback": _ref("Callback")}},
                "Originate queued (or its answer unknown: never re-sent)",
            ),
            400,
            401,
            403,
            404,
            409,
            502,
            503,
            params=[_TICKET_ID],
            status="202",
        ),
    },
    "/api/dispatch/tickets/{ticket_id}/callback/outcome": {
        "post": _post(
            "Record how a callback went: reached, no_answer (may be tried again) or dismissed; "
            "audited. After reached or dismissed the ticket takes no further callback (409).",
            {
                "type": "object",
                "required": ["outcome"],
                "properties": {"outcome": {"type": "string", "enum": ["reached", "no_answer", "dismissed"]}},
            },
            _json(
                {
                    "type": "object",
                    "properties": {
                        "ticket_id": {"type": "integer"},
                        "outcome": {"type": "string"},
                        "at": {"type": "string"},
                    },
                },
                "Outcome recorded",
            ),
            400,
            401,
            403,
            404,
            409,
            params=[_TICKET_ID],
        ),
    },
    "/api/dispatch/dispatches/{dispatch_id}/status": {
        "post": _post(
            "Record an agency's status on its behalf (told by radio or phone; audited as on_behalf_of)",
            _STATUS_BODY,
            _DISPATCH_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/dispatch/dispatches/{dispatch_id}/report": {
        "post": _post(
            "Record an agency's field report on its behalf",
            _REPORT_BODY,
            _DISPATCH_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/agency/dispatches": {
        "get": _get(
            "The agency user's own agency's dispatches: open and finished",
            _json(
                {
                    "type": "object",
                    "properties": {
                        "agency": {"type": "object", "nullable": True},
                        "open": {"type": "array", "items": _ref("Dispatch")},
                        "done": {"type": "array", "items": _ref("Dispatch")},
                        "server_time": {"type": "string"},
                    },
                },
                "Dispatches",
            ),
            401,
            403,
        ),
    },
    "/api/agency/dispatches/{dispatch_id}": {
        "get": _get(
            "One of the agency's own dispatches with the ticket facts the field team needs: its "
            "timeline (the center's time zone), the other agencies on the incident (name and stage "
            "only) and, once the ticket is closed, the dispatcher's closing reason",
            _json(
                {
                    "type": "object",
                    "properties": {
                        "dispatch": _ref("Dispatch"),
                        "ticket": {"type": "object"},
                        "timeline": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "stage": {"type": "string"},
                                    "label": {"type": "string"},
                                    "at": {"type": "string", "format": "date-time"},
                                    "local": {"type": "string", "description": "In the center's time zone"},
                                    "by": {"type": "string", "nullable": True},
                                },
                            },
                        },
                        "other_agencies": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "agency": {"type": "string"},
                                    "agency_name": {"type": "string"},
                                    "status": {"type": "string"},
                                    "status_label": {"type": "string"},
                                },
                            },
                        },
                        "closing": {
                            "type": "object",
                            "nullable": True,
                            "properties": {
                                "at": {"type": "string"},
                                "local": {"type": "string"},
                                "reason": {"type": "string", "nullable": True},
                            },
                        },
                        "timezone": {"type": "string"},
                        "can_acknowledge": {"type": "boolean"},
                        "next_statuses": {"type": "array", "items": {"type": "string"}},
                        "can_report": {
                            "type": "boolean",
                            "description": "False after 'cannot handle': its reason is the report",
                        },
                    },
                },
                "Dispatch",
            ),
            401,
            403,
            404,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/agency/dispatches/{dispatch_id}/acknowledge": {
        "post": _post(
            "Acknowledge: the agency received the dispatch (sent → acknowledged)",
            None,
            _DISPATCH_RESULT,
            401,
            403,
            404,
            409,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/agency/dispatches/{dispatch_id}/status": {
        "post": _post(
            "En route, on scene, handled, or cannot handle (with a reason)",
            _STATUS_BODY,
            _DISPATCH_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/agency/dispatches/{dispatch_id}/report": {
        "post": _post(
            "The field report (once per dispatch)",
            _REPORT_BODY,
            _DISPATCH_RESULT,
            400,
            401,
            403,
            404,
            409,
            params=[_DISPATCH_ID],
        ),
    },
    "/api/reports": {
        "get": _get(
            "The report over a date range: calls per hour, verdicts, answer times, SLA per stage, "
            "operator and day (counts and sums, with the derived shares)",
            _json({"type": "object"}, "Report"),
            401,
            403,
            params=_RANGE,
            invalid=True,
        ),
    },
    "/api/reports/csv": {
        "get": {
            **_get(
                "The same report as CSV (section, group, item, metric, value); it parses back",
                {"description": "CSV", "content": {"text/csv": {"schema": {"type": "string"}}}},
                401,
                403,
                params=_RANGE,
                invalid=True,
            )
        },
    },
    "/api/admin/users": {
        "get": _get(
            "Every account with its agency",
            _json({"type": "object", "properties": {"users": {"type": "array", "items": _ref("Account")}}}, "Accounts"),
            401,
            403,
        ),
        "post": _post(
            "Add a user (an agency user needs 'agency', an operator 'interface')",
            {
                "type": "object",
                "required": ["username", "role", "password"],
                "properties": {
                    "username": {"type": "string"},
                    "display_name": {"type": "string"},
                    "role": {"enum": list(USER_ROLES)},
                    "password": {"type": "string", "minLength": 8},
                    "interface": {"type": "string", "description": "e.g. PJSIP/op1; empty: none"},
                    "agency": {"type": "string", "description": "Agency code (agency users)"},
                },
            },
            _json({"type": "object", "properties": {"user": _ref("Account")}}, "Added"),
            400,
            401,
            403,
            status="201",
        ),
    },
    "/api/admin/users/{user_id}": {
        "post": _post(
            "Change a user's role, softphone interface, agency or active flag (any subset)",
            {
                "type": "object",
                "properties": {
                    "role": {"enum": list(USER_ROLES)},
                    "interface": {"type": "string", "nullable": True},
                    "agency": {"type": "string", "nullable": True},
                    "active": {"type": "boolean"},
                },
            },
            _json({"type": "object", "properties": {"user": _ref("Account")}}, "Changed"),
            400,
            401,
            403,
            404,
            params=[_USER_ID],
        ),
    },
    "/api/admin/users/{user_id}/password": {
        "post": _post(
            "Give another user a temporary password (at least 8 characters); every panel "
            "session of theirs ends; your own is changed on /account/password",
            {
                "type": "object",
                "required": ["password"],
                "properties": {"password": {"type": "string", "minLength": 8}},
            },
            _json({"type": "object", "properties": {"user": _ref("Account")}}, "Reset"),
            400,
            401,
            403,
            404,
            params=[_USER_ID],
        ),
    },
    "/api/admin/agencies": {
        "get": _get(
            "Every agency",
            _json(
                {"type": "object", "properties": {"agencies": {"type": "array", "items": _ref("Agency")}}}, "Agencies"
            ),
            401,
            403,
        ),
        "post": _post(
            "Add an agency",
            {
                "type": "object",
                "required": ["code", "name", "kind"],
                "properties": {
                    "code": {"type": "string", "pattern": "^[a-z][a-z0-9_-]{1,31}$"},
                    "name": {"type": "string"},
                    "kind": {"enum": list(AGENCY_KINDS)},
                },
            },
            _json({"type": "object", "properties": {"agency": _ref("Agency")}}, "Added"),
            400,
            401,
            403,
            status="201",
        ),
    },
    "/api/admin/agencies/{code}": {
        "post": _post(
            "Rename, re-kind, deactivate or reactivate an agency (the code never changes)",
            {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "kind": {"enum": list(AGENCY_KINDS)},
                    "active": {"type": "boolean"},
                },
            },
            _json({"type": "object", "properties": {"agency": _ref("Agency")}}, "Changed"),
            400,
            401,
            403,
            404,
            params=[_CODE],
        ),
    },
    "/ws/dispatch": {
        "get": {
            "summary": "Websocket for the dispatch, callbacks and agency pages: pushes {type: hello|resync}, "
            "{type: board, what: [queue|operators|tickets], ticket_ids: [...]} to staff and "
            "{type: dispatch, ticket_ids: [...]} to an agency user, only for tickets dispatched "
            "to their agency; changes are gathered for 0.1 s. Fetch the state again on each "
            "(re)connect.",
            "responses": {"101": {"description": "Switching protocols"}, **_refusals(401, 403), **NOT_A_WEBSOCKET},
        },
    },
}

_string, _nullable = {"type": "string"}, {"type": "string", "nullable": True}
SCHEMAS: dict[str, Any] = {
    "Dispatch": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "ticket_id": {"type": "integer"},
            "ticket_state": _string,
            "agency": _string,
            "agency_name": _string,
            "status": {"enum": [s.value for s in DispatchStatus]},
            "instructions": _string,
            "sent_at": _string,
            "sent_by": _string,
            "acknowledged_at": _nullable,
            "acknowledged_by": _nullable,
            "en_route_at": _nullable,
            "on_scene_at": _nullable,
            "finished_at": _nullable,
            "reason": _nullable,
            "report": _nullable,
            "reported_at": _nullable,
            "reported_by": _nullable,
            "sent_seconds": {"type": "number", "description": "Board and dispatcher's ticket: seconds since sent"},
            "ack_overdue": {"type": "boolean", "description": "Still not acknowledged past [sla] acknowledge"},
            "arrival_overdue": {"type": "boolean", "description": "Not on scene past [sla] arrival"},
            "acknowledge_target": {"type": "number", "nullable": True},
            "arrival_target": {"type": "number", "nullable": True},
        },
    },
    "TicketFound": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "arrived_at": _string,
            "arrived_local": _string,
            "caller_number": _nullable,
            "state": _string,
            "verdict": _nullable,
            "category": _nullable,
            "agencies": {"type": "array", "items": _string},
            "closed_at": _nullable,
            "closed_reason": _nullable,
        },
    },
    "AuditEntry": {
        "type": "object",
        "properties": {
            "at": _string,
            "actor": _string,
            "action": _string,
            "from_state": _nullable,
            "to_state": _nullable,
            "changes": {"type": "object"},
            "at_local": {"type": "string", "description": "In the center's time zone, e.g. 2026-12-01 19:05:03 WIB"},
            "action_label": {"type": "string", "description": "The action in the reader's language"},
            "actor_role": {"type": "string", "nullable": True, "description": "null: an automatic actor"},
            "actor_label": _string,
            "details": {
                "type": "array",
                "description": "changes as translated key: value text",
                "items": {"type": "object", "properties": {"key": _string, "label": _string, "text": _string}},
            },
        },
    },
    "DispatchTicket": {
        "type": "object",
        "properties": {
            "ticket": _ref("Ticket"),
            "dispatches": {"type": "array", "items": _ref("Dispatch")},
            "audit": {"type": "array", "items": _ref("AuditEntry")},
            "agencies": {"type": "array", "items": {"type": "object"}, "description": "Agencies still offered"},
            "can_dispatch": {"type": "boolean"},
            "can_close": {"type": "boolean"},
            "needs_override": {"type": "boolean"},
            "can_callback": {"type": "boolean"},
            "callback_number": _nullable,
            "callback_pending": {"type": "boolean"},
        },
    },
    "Attention": {
        "type": "object",
        "description": "One thing the dispatcher must act on",
        "properties": {
            "kind": {"enum": ["awaiting_dispatch", "cannot_handle", "overdue_acknowledgement", "overdue_arrival"]},
            "key": _string,
            "ticket_id": {"type": "integer"},
            "category": _nullable,
            "address": _string,
            "agency": _nullable,
            "agency_name": _nullable,
            "reason": _nullable,
            "since": _nullable,
            "seconds": {"type": "number", "nullable": True},
            "target_seconds": {"type": "number", "nullable": True},
            "overdue": {"type": "boolean"},
        },
    },
    "Board": {
        "type": "object",
        "properties": {
            "server_time": _string,
            "ami_connected": {"type": "boolean"},
            "targets": {
                "type": "object",
                "description": "Seconds: answer, intake, dispatch, field_handling, "
                "closing, acknowledge, arrival (null: not judged)",
            },
            "attention": {
                "type": "array",
                "items": _ref("Attention"),
                "description": "Awaiting dispatch, then cannot handle, then overdue acknowledgement, "
                "then overdue arrival; oldest first within each",
            },
            "waiting": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "call_id": _string,
                        "caller_number": _nullable,
                        "priority": {"type": "integer", "nullable": True},
                        "wait_seconds": {"type": "number"},
                        "overdue": {"type": "boolean"},
                    },
                },
            },
            "operators": {"type": "array", "items": _ref("Presence")},
            "escalated": {"type": "array", "items": {"type": "object"}},
            "incidents": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "dispatches": {"type": "array", "items": _ref("Dispatch")},
                        "overdue": {"type": "boolean"},
                    },
                },
            },
            "callbacks": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Callback": {
        "type": "object",
        "properties": {
            "ticket_id": {"type": "integer"},
            "action_id": _string,
            "number": _string,
            "interface": _string,
            "actor": _string,
            "at": _string,
            "outcome": {"enum": ["queued", "refused", "unknown"]},
            "message": _string,
        },
    },
    "Account": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": _string,
            "display_name": _string,
            "role": {"enum": list(USER_ROLES)},
            "interface": _nullable,
            "active": {"type": "boolean"},
            "agency": _nullable,
        },
    },
    "Agency": {
        "type": "object",
        "properties": {
            "code": _string,
            "name": _string,
            "kind": {"enum": list(AGENCY_KINDS)},
            "active": {"type": "boolean"},
        },
    },
}
