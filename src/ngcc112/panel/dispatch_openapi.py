"""The route table of the dispatch, agency, reports and admin API (:mod:`.dispatch.api`,
:mod:`.agency.api`, :mod:`.reports.api`, :mod:`.admin.api`).

``PATHS`` and ``SCHEMAS`` are generated from :data:`ROUTES` and the models of
:mod:`ngcc112.panel.api_models` (:func:`ngcc112.panel.openapi_routes.describe`); the panel
registers them with :func:`ngcc112.panel.openapi.register`, so ``/api/openapi.json`` serves them.
Tests check the table against the routes those modules register, both ways.
"""

from __future__ import annotations

from typing import Any

from ngcc112.panel.api_models import admin, dispatch, queries
from ngcc112.panel.openapi_routes import Content, Route, describe, json
from ngcc112.tickets.states import Role

OPERATOR, DISPATCHER, AGENCY, ADMIN = (r.value for r in (Role.OPERATOR, Role.DISPATCHER, Role.AGENCY, Role.ADMIN))
TEXTS = {
    404: "No such ticket / dispatch / user / agency — or not this user's to see (another agency's)",
    409: "The state table refuses it now (the reason is in 'error')",
    502: "Asterisk refused the Originate",
    503: "Asterisk is not connected; nothing was sent",
}
_POST = (400, 401, 403, 404, 409, 422)
_TICKET = {200: json(dispatch.DispatchTicket, "The ticket now, with its dispatches and audit trail")}
_DISPATCH = {200: json(dispatch.DispatchAnswer, "The dispatch now")}


def _route(method: str, path: str, summary: str, answers: dict[int, Content], *refusals: int, **more: Any) -> Route:
    return Route(method, path, summary, answers, refusals, texts=TEXTS, **more)


ROUTES: tuple[Route, ...] = (
    _route(
        "GET",
        "/api/dispatch/board",
        "The dispatcher board: what needs the dispatcher first ('attention': awaiting dispatch, an agency "
        "that cannot handle, dispatches overdue for acknowledgement or arrival against the [sla] acknowledge / "
        "arrival targets), waiting calls, operators, escalated tickets, dispatched incidents with each "
        "agency's status, abandoned calls to call back; 'overdue' marks what is past its SLA target",
        {200: json(dispatch.Board, "Board")},
        401,
        403,
        roles=(DISPATCHER, ADMIN),
    ),
    _route(
        "GET",
        "/api/dispatch/tickets",
        "Find tickets: every filter optional, newest first, 50 a page (as /dispatch/tickets; the same "
        "filters give /dispatch/tickets.csv, one row per ticket)",
        {200: json(dispatch.TicketPage, "One page of tickets")},
        401,
        403,
        422,
        roles=(DISPATCHER, ADMIN),
        query=queries.SearchQuery,
    ),
    _route(
        "GET",
        "/api/dispatch/tickets/{ticket_id}",
        "One ticket with every dispatch, its audit trail and what the dispatcher may do",
        _TICKET,
        401,
        403,
        404,
        roles=(DISPATCHER, ADMIN),
    ),
    _route(
        "POST",
        "/api/dispatch/tickets/{ticket_id}/dispatch",
        "Forward the ticket to agencies (escalated → dispatched; more agencies while they work)",
        _TICKET,
        *_POST,
        roles=(DISPATCHER,),
        body=dispatch.DispatchOrder,
    ),
    _route(
        "POST",
        "/api/dispatch/tickets/{ticket_id}/close",
        "Close Ticket: when every agency has reported, or earlier with an override reason (audited)",
        _TICKET,
        *_POST,
        roles=(DISPATCHER,),
        body=dispatch.CloseTicket,
    ),
    _route(
        "GET",
        "/api/dispatch/callbacks",
        "Abandoned calls of the last 24 hours to call back, with every callback made on each "
        "(operators, dispatchers, admins)",
        {200: json(dispatch.Callbacks, "Callback candidates")},
        401,
        403,
        roles=(OPERATOR, DISPATCHER, ADMIN),
    ),
    _route(
        "POST",
        "/api/dispatch/tickets/{ticket_id}/callback",
        "Call the caller back: ONE Originate (Async) from the user's softphone into the operators' context; "
        "audited with its ActionID. A request_id already used is refused.",
        {202: json(dispatch.CallbackPlaced, "Originate queued (or its answer unknown: never re-sent)")},
        *_POST,
        502,
        503,
        roles=(OPERATOR, DISPATCHER),
        body=dispatch.CallbackRequest,
    ),
    _route(
        "POST",
        "/api/dispatch/tickets/{ticket_id}/callback/outcome",
        "Record how a callback went: reached, no_answer (may be tried again) or dismissed; audited. After "
        "reached or dismissed the ticket takes no further callback (409).",
        {200: json(dispatch.OutcomeRecorded, "Outcome recorded")},
        *_POST,
        roles=(OPERATOR, DISPATCHER),
        body=dispatch.CallbackOutcome,
    ),
    _route(
        "POST",
        "/api/dispatch/dispatches/{dispatch_id}/status",
        "Record an agency's status on its behalf (told by radio or phone; audited as on_behalf_of)",
        _DISPATCH,
        *_POST,
        roles=(DISPATCHER,),
        body=dispatch.StatusUpdate,
    ),
    _route(
        "POST",
        "/api/dispatch/dispatches/{dispatch_id}/report",
        "Record an agency's field report on its behalf",
        _DISPATCH,
        *_POST,
        roles=(DISPATCHER,),
        body=dispatch.FieldReport,
    ),
    _route(
        "GET",
        "/api/agency/dispatches",
        "The agency user's own agency's dispatches: open and finished",
        {200: json(dispatch.AgencyDispatches, "Dispatches")},
        401,
        403,
        roles=(AGENCY,),
    ),
    _route(
        "GET",
        "/api/agency/dispatches/{dispatch_id}",
        "One of the agency's own dispatches with the ticket facts the field team needs: its timeline (the "
        "center's time zone), the other agencies on the incident (name and stage only) and, once the ticket "
        "is closed, the dispatcher's closing reason",
        {200: json(dispatch.AgencyDispatch, "Dispatch")},
        401,
        403,
        404,
        roles=(AGENCY,),
    ),
    _route(
        "POST",
        "/api/agency/dispatches/{dispatch_id}/acknowledge",
        "Acknowledge: the agency received the dispatch (sent → acknowledged)",
        _DISPATCH,
        401,
        403,
        404,
        409,
        roles=(AGENCY,),
    ),
    _route(
        "POST",
        "/api/agency/dispatches/{dispatch_id}/status",
        "En route, on scene, handled, or cannot handle (with a reason)",
        _DISPATCH,
        *_POST,
        roles=(AGENCY,),
        body=dispatch.StatusUpdate,
    ),
    _route(
        "POST",
        "/api/agency/dispatches/{dispatch_id}/report",
        "The field report (once per dispatch)",
        _DISPATCH,
        *_POST,
        roles=(AGENCY,),
        body=dispatch.FieldReport,
    ),
    _route(
        "GET",
        "/api/reports",
        "The report over a date range: calls per hour, verdicts, answer times, SLA per stage, operator and "
        "day (counts and sums, with the derived shares)",
        {200: json(dispatch.Report, "Report")},
        401,
        403,
        422,
        roles=(DISPATCHER, ADMIN),
        query=queries.ReportQuery,
    ),
    _route(
        "GET",
        "/api/reports/csv",
        "The same report as CSV (section, group, item, metric, value); it parses back",
        {200: Content("CSV", media_type="text/csv", schema={"type": "string"})},
        401,
        403,
        422,
        roles=(DISPATCHER, ADMIN),
        query=queries.ReportQuery,
    ),
    _route(
        "GET",
        "/api/admin/users",
        "Every account with its agency",
        {200: json(admin.AccountList, "Accounts")},
        401,
        403,
        roles=(ADMIN,),
    ),
    _route(
        "POST",
        "/api/admin/users",
        "Add a user (an agency user needs 'agency', an operator 'interface')",
        {201: json(admin.AccountAnswer, "Added")},
        400,
        401,
        403,
        422,
        roles=(ADMIN,),
        body=admin.NewAccount,
    ),
    _route(
        "POST",
        "/api/admin/users/{user_id}",
        "Change a user's role, softphone interface, agency or active flag (any subset)",
        {200: json(admin.AccountAnswer, "Changed")},
        400,
        401,
        403,
        404,
        422,
        roles=(ADMIN,),
        body=admin.AccountChange,
    ),
    _route(
        "POST",
        "/api/admin/users/{user_id}/password",
        "Give another user a temporary password (at least 8 characters); every panel session of theirs "
        "ends; your own is changed on /account/password",
        {200: json(admin.AccountAnswer, "Reset")},
        400,
        401,
        403,
        404,
        422,
        roles=(ADMIN,),
        body=admin.PasswordReset,
    ),
    _route(
        "GET",
        "/api/admin/agencies",
        "Every agency",
        {200: json(admin.AgencyList, "Agencies")},
        401,
        403,
        roles=(ADMIN,),
    ),
    _route(
        "POST",
        "/api/admin/agencies",
        "Add an agency",
        {201: json(admin.AgencyAnswer, "Added")},
        400,
        401,
        403,
        422,
        roles=(ADMIN,),
        body=admin.NewAgency,
    ),
    _route(
        "POST",
        "/api/admin/agencies/{code}",
        "Rename, re-kind, deactivate or reactivate an agency (the code never changes)",
        {200: json(admin.AgencyAnswer, "Changed")},
        400,
        401,
        403,
        404,
        422,
        roles=(ADMIN,),
        body=admin.AgencyChange,
    ),
)

_DESCRIBED = describe(ROUTES)
PATHS: dict[str, Any] = _DESCRIBED["paths"]
SCHEMAS: dict[str, Any] = _DESCRIBED["components"]["schemas"]
