"""The JSON API behind the dispatch, agency, reports and admin pages (see :mod:`.dispatch_openapi`).

Refusals, as everywhere in the panel: 401 not logged in, 403 wrong role or no CSRF token
(the panel's middleware), 404 for what does not exist *or* is not this user's to see
(another agency's dispatch), 409 for a transition the state table refuses (the reason in
``error``), 422 with per-field ``errors`` and the ``values`` sent, 503 when Asterisk is away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.admin.accounts import change_account, create_account, reset_account_password
from ngcc112.panel.admin.validate import validate_agency
from ngcc112.panel.agency.data import agency_dispatch, agency_dispatches
from ngcc112.panel.agency.validate import validate_report, validate_status
from ngcc112.panel.api import _invalid
from ngcc112.panel.api_models import admin, queries
from ngcc112.panel.api_models import dispatch as models
from ngcc112.panel.api_models.read import read_model, read_query
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.dispatch.board import board_data, callbacks_data
from ngcc112.panel.dispatch.callbacks import place_callback
from ngcc112.panel.dispatch.search import ticket_search, when_local
from ngcc112.panel.dispatch.ticket import ticket_data, ticket_state_of, validate_close, validate_dispatch
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.forms import refusal_reason
from ngcc112.panel.refusals import field_error
from ngcc112.panel.reports.charts import report_json
from ngcc112.panel.reports.query import parse_report_query
from ngcc112.panel.reports.views import csv_response, make_report
from ngcc112.panel.roles import ADMIN, AGENCY, DISPATCHER, OPERATOR
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.panel.ticket_search import PAGE_SIZE, row_json, search_tickets
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.callback_outcomes import OutcomeRefused, record_outcome
from ngcc112.tickets.closing import needs_override
from ngcc112.tickets.states import TransitionRefused
from ngcc112.tickets.store import jsonable

routes = web.RouteTableDef()


def _conflict(request: web.Request, exc: TransitionRefused) -> web.Response:
    """409; a refusal that carries a ``msgid`` is told in the user's language."""
    return web.json_response({"error": refusal_reason(request, exc), "code": "state"}, status=409)


async def _not_found(request: web.Request) -> web.Response:
    return await error_response(request, 404, "Not found", code="not_found")


async def _run(
    request: web.Request,
    use_case: Callable[[], Awaitable[Any]],
    values: dict[str, Any],
    ok: Callable[[Any], Awaitable[dict[str, Any]]],
) -> web.Response:
    """Run a dispatch use case; map its refusals to the API's answers."""
    try:
        result = await use_case()
    except dispatching.DispatchError as exc:
        return await _invalid(request, {exc.field: exc.message}, values)
    except TransitionRefused as exc:
        return _conflict(request, exc)
    return web.json_response(await ok(result))


# -- dispatcher ------------------------------------------------------------------------------


@routes.get("/api/dispatch/board")
@require(DISPATCHER, ADMIN)
async def board(request: web.Request) -> web.Response:
    return web.json_response(await board_data(request))


@routes.get("/api/dispatch/tickets/{ticket_id:\\d+}")
@require(DISPATCHER, ADMIN)
async def ticket(request: web.Request) -> web.Response:
    return web.json_response(await ticket_data(request, int(request.match_info["ticket_id"])))


@routes.get("/api/dispatch/tickets")
@require(DISPATCHER, ADMIN)
async def tickets(request: web.Request) -> web.Response:
    """The ticket search: the same filters and pages as /dispatch/tickets."""
    try:
        read_query(request, queries.SearchQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    query, errors, values, _agencies = await ticket_search(request)
    if query is None:
        return await _invalid(request, errors, values)
    found = await search_tickets(request.app[DISPATCH].panel.services.sessions, query)
    when = when_local(request)
    return web.json_response(
        {
            "tickets": [row_json(r, when) for r in found.rows],
            "total": found.total,
            "page": found.page,
            "pages": found.pages,
            "page_size": PAGE_SIZE,
        }
    )


def _ticket_result(request: web.Request, ticket_id: int) -> Callable[[Any], Awaitable[dict[str, Any]]]:
    async def ok(_result: Any) -> dict[str, Any]:
        return await ticket_data(request, ticket_id)

    return ok


@routes.post("/api/dispatch/tickets/{ticket_id:\\d+}/dispatch")
@require(DISPATCHER)
async def dispatch(request: web.Request) -> web.Response:
    ticket_id = int(request.match_info["ticket_id"])
    try:
        order = await read_model(request, models.DispatchOrder)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    chosen, instructions = order.agencies, order.instructions
    values = {"agencies": chosen, "instructions": instructions}
    errors = validate_dispatch(chosen, instructions)
    if errors:
        return await _invalid(request, errors, values)
    panel = request.app[PANEL]
    return await _run(
        request,
        lambda: dispatching.dispatch(
            panel.services.sessions, panel.services.hub.publish, ticket_id, chosen, instructions, request[USER]
        ),
        values,
        _ticket_result(request, ticket_id),
    )


@routes.post("/api/dispatch/tickets/{ticket_id:\\d+}/close")
@require(DISPATCHER)
async def close(request: web.Request) -> web.Response:
    ticket_id = int(request.match_info["ticket_id"])
    try:
        reason = (await read_model(request, models.CloseTicket)).override_reason
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    current = await ticket_state_of(request, ticket_id)
    if current is None:
        return await _not_found(request)
    errors = validate_close(needs_override(current), reason)
    if errors:
        return await _invalid(request, errors, {"override_reason": reason})
    panel = request.app[PANEL]
    return await _run(
        request,
        lambda: dispatching.close(
            panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], reason or None
        ),
        {"override_reason": reason},
        _ticket_result(request, ticket_id),
    )


@routes.get("/api/dispatch/callbacks")
@require(OPERATOR, DISPATCHER, ADMIN)
async def callbacks(request: web.Request) -> web.Response:
    return web.json_response(await callbacks_data(request))


@routes.post("/api/dispatch/tickets/{ticket_id:\\d+}/callback")
@require(OPERATOR, DISPATCHER)
async def callback(request: web.Request) -> web.Response:
    ticket_id = int(request.match_info["ticket_id"])
    try:
        request_id = (await read_model(request, models.CallbackRequest)).request_id
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    result = await place_callback(request, ticket_id, request_id or None)
    if isinstance(result, tuple):
        status, message, code = result
        if status == 503:
            return await error_response(request, 503, message, code=code)
        return web.json_response({"error": message, "code": code}, status=status)
    answer = jsonable(
        {
            "ticket_id": result.ticket_id,
            "action_id": result.action_id,
            "number": result.number,
            "interface": result.interface,
            "actor": result.actor,
            "at": result.at,
            "outcome": result.outcome,
            "message": result.message,
        }
    )
    if result.outcome == "refused":
        return web.json_response({"error": result.message, "code": "asterisk", "callback": answer}, status=502)
    return web.json_response({"callback": answer}, status=202)


@routes.post("/api/dispatch/tickets/{ticket_id:\\d+}/callback/outcome")
@require(OPERATOR, DISPATCHER)
async def callback_outcome(request: web.Request) -> web.Response:
    ticket_id = int(request.match_info["ticket_id"])
    try:
        outcome: str = (await read_model(request, models.CallbackOutcome)).outcome
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    panel = request.app[PANEL]
    try:
        change = await record_outcome(
            panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], outcome
        )
    except OutcomeRefused as exc:
        if exc.status == 404:
            return await _not_found(request)
        if exc.status == 403:
            return await error_response(request, 403, "Your role may not do this", code="role")
        if exc.field is not None:
            return await _invalid(request, {exc.field: exc.msgid or exc.reason}, {"outcome": outcome})
        message = request[GETTEXT](exc.msgid) if exc.msgid else exc.reason
        return web.json_response({"error": message, "code": exc.code}, status=exc.status)
    return web.json_response(jsonable({"ticket_id": ticket_id, "outcome": outcome, "at": change.at}))


# -- agency side (and a dispatcher recording what an agency reported by radio or phone) -------


async def _dispatch_result(view: dispatching.DispatchView) -> dict[str, Any]:
    return {"dispatch": dispatching.dispatch_summary(view)}


async def _status(request: web.Request) -> web.Response:
    dispatch_id = int(request.match_info["dispatch_id"])
    try:
        update = await read_model(request, models.StatusUpdate)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    status, reason = update.status, update.reason
    values = {"status": status, "reason": reason}
    errors = validate_status(status, reason)
    if errors:
        return await _invalid(request, errors, values)
    panel = request.app[PANEL]
    return await _run(
        request,
        lambda: dispatching.update_status(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, status, reason or None, request[USER]
        ),
        values,
        _dispatch_result,
    )


async def _report(request: web.Request) -> web.Response:
    dispatch_id = int(request.match_info["dispatch_id"])
    try:
        text = (await read_model(request, models.FieldReport)).report
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    errors = validate_report(text)
    if errors:
        return await _invalid(request, errors, {"report": text})
    panel = request.app[PANEL]
    return await _run(
        request,
        lambda: dispatching.file_report(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, text, request[USER]
        ),
        {"report": text},
        _dispatch_result,
    )


@routes.post("/api/dispatch/dispatches/{dispatch_id:\\d+}/status")
@require(DISPATCHER)
async def dispatcher_status(request: web.Request) -> web.Response:
    """The dispatcher records an agency's status on its behalf (audited as ``on_behalf_of``)."""
    return await _status(request)


@routes.post("/api/dispatch/dispatches/{dispatch_id:\\d+}/report")
@require(DISPATCHER)
async def dispatcher_report(request: web.Request) -> web.Response:
    return await _report(request)


@routes.get("/api/agency/dispatches")
@require(AGENCY)
async def agency_list(request: web.Request) -> web.Response:
    return web.json_response(await agency_dispatches(request))


@routes.get("/api/agency/dispatches/{dispatch_id:\\d+}")
@require(AGENCY)
async def agency_one(request: web.Request) -> web.Response:
    return web.json_response(await agency_dispatch(request, int(request.match_info["dispatch_id"])))


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/acknowledge")
@require(AGENCY)
async def agency_acknowledge(request: web.Request) -> web.Response:
    dispatch_id = int(request.match_info["dispatch_id"])
    panel = request.app[PANEL]
    return await _run(
        request,
        lambda: dispatching.acknowledge(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, request[USER]
        ),
        {},
        _dispatch_result,
    )


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/status")
@require(AGENCY)
async def agency_status(request: web.Request) -> web.Response:
    return await _status(request)


@routes.post("/api/agency/dispatches/{dispatch_id:\\d+}/report")
@require(AGENCY)
async def agency_report(request: web.Request) -> web.Response:
    return await _report(request)


# -- reports ---------------------------------------------------------------------------------


@routes.get("/api/reports")
@require(DISPATCHER, ADMIN)
async def reports(request: web.Request) -> web.Response:
    try:
        read_query(request, queries.ReportQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await _invalid(request, errors, values)
    return web.json_response(report_json(await make_report(request, query)))


@routes.get("/api/reports/csv")
@require(DISPATCHER, ADMIN)
async def reports_csv(request: web.Request) -> web.Response:
    try:
        read_query(request, queries.ReportQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await _invalid(request, errors, values)
    return csv_response(await make_report(request, query))


# -- admin ---------------------------------------------------------------------------------


def _account(account: agency_admin.Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "username": account.username,
        "display_name": account.display_name,
        "role": account.role,
        "interface": account.interface,
        "active": account.active,
        "agency": account.agency_code,
    }


def _agency(agency: Any) -> dict[str, Any]:
    return {"code": agency.code, "name": agency.name, "kind": agency.kind, "active": agency.active}


async def _accounts(request: web.Request) -> list[dict[str, Any]]:
    return [_account(a) for a in await agency_admin.list_accounts(request.app[PANEL].services.sessions, request[USER])]


@routes.get("/api/admin/users")
@require(ADMIN)
async def users(request: web.Request) -> web.Response:
    return web.json_response({"users": await _accounts(request)})


@routes.post("/api/admin/users")
@require(ADMIN)
async def users_add(request: web.Request) -> web.Response:
    try:
        new = await read_model(request, admin.NewAccount)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values: dict[str, str] = new.model_dump()
    user, errors = await create_account(request, values)
    if errors or user is None:
        return await _invalid(request, errors, {**values, "password": ""})
    account = next(a for a in await _accounts(request) if a["id"] == user.id)
    return web.json_response({"user": account}, status=201)


@routes.post("/api/admin/users/{user_id:\\d+}")
@require(ADMIN)
async def users_change(request: web.Request) -> web.Response:
    """Change any of: role, interface (empty: none), agency (empty: none), active."""
    user_id = int(request.match_info["user_id"])
    try:
        change = await read_model(request, admin.AccountChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values: dict[str, Any] = {}
    for key in ("role", "interface", "agency"):
        if key in change.model_fields_set:
            values[key] = (getattr(change, key) or "").strip()
    if "active" in change.model_fields_set:
        values["active"] = change.active
    if "agency" in values and "role" not in values:
        current = next((a for a in await _accounts(request) if a["id"] == user_id), None)
        if current is None:
            return await _not_found(request)
        values["role"] = current["role"]
    errors = await change_account(request, user_id, values)
    if errors:
        if "user" in errors:
            return await _not_found(request)
        return await _invalid(request, errors, values)
    account = next((a for a in await _accounts(request) if a["id"] == user_id), None)
    if account is None:
        return await _not_found(request)
    return web.json_response({"user": account})


@routes.post("/api/admin/users/{user_id:\\d+}/password")
@require(ADMIN)
async def users_reset_password(request: web.Request) -> web.Response:
    """Give another user a temporary password; every session of theirs ends."""
    user_id = int(request.match_info["user_id"])
    try:
        password = (await read_model(request, admin.PasswordReset)).password
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    errors = await reset_account_password(request, user_id, password)
    if errors:
        if "user" in errors:
            return await _not_found(request)
        return await _invalid(request, errors, {"password": ""})
    account = next((a for a in await _accounts(request) if a["id"] == user_id), None)
    if account is None:
        return await _not_found(request)
    return web.json_response({"user": account})


@routes.get("/api/admin/agencies")
@require(ADMIN)
async def agencies(request: web.Request) -> web.Response:
    found = await agency_admin.list_agencies(request.app[PANEL].services.sessions)
    return web.json_response({"agencies": [_agency(a) for a in found]})


@routes.post("/api/admin/agencies")
@require(ADMIN)
async def agencies_add(request: web.Request) -> web.Response:
    try:
        new_agency = await read_model(request, admin.NewAgency)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    values = {key: value.strip() for key, value in new_agency.model_dump().items()}
    errors = validate_agency(values, new=True)
    if errors:
        return await _invalid(request, errors, values)
    try:
        agency = await agency_admin.create_agency(request.app[PANEL].services.sessions, request[USER], **values)
    except agency_admin.AgencyError as exc:
        return await _invalid(request, field_error(request, exc), values)
    return web.json_response({"agency": _agency(agency)}, status=201)


@routes.post("/api/admin/agencies/{code}")
@require(ADMIN)
async def agencies_change(request: web.Request) -> web.Response:
    """Change any of: name, kind, active (the code never changes)."""
    code = request.match_info["code"]
    try:
        change = await read_model(request, admin.AgencyChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    sessions = request.app[PANEL].services.sessions
    current = await agency_admin.get_agency(sessions, code)
    if current is None:
        return await _not_found(request)
    sent = change.model_fields_set
    values = {key: (getattr(change, key) if key in sent else getattr(current, key)).strip() for key in ("name", "kind")}
    active = change.active if "active" in sent else current.active
    errors = validate_agency(values, new=False)
    if errors:
        return await _invalid(request, errors, {**values, "active": active})
    try:
        agency = await agency_admin.update_agency(
            sessions, request[USER], code, name=values["name"], kind=values["kind"], active=active
        )
    except agency_admin.AgencyError as exc:
        return await _invalid(request, field_error(request, exc), {**values, "active": active})
    return web.json_response({"agency": _agency(agency)})
