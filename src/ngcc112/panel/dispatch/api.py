"""The dispatcher's JSON API (see :mod:`ngcc112.panel.dispatch_openapi`): the board, a ticket, the
ticket search, dispatching, closing, the callbacks and their outcomes, and what an agency reported
by radio or phone. The refusals are :mod:`.answers`'."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.api import _invalid
from ngcc112.panel.api_models import dispatch as models
from ngcc112.panel.api_models import queries
from ngcc112.panel.api_models.read import read_model, read_query
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.dispatch.answers import field_report, not_found, run_use_case, status_update
from ngcc112.panel.dispatch.board import board_data, callbacks_data
from ngcc112.panel.dispatch.callbacks import place_callback
from ngcc112.panel.dispatch.search import ticket_search, when_local
from ngcc112.panel.dispatch.ticket import ticket_data, ticket_state_of, validate_close, validate_dispatch
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.roles import ADMIN, DISPATCHER, OPERATOR
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.panel.ticket_search import PAGE_SIZE, row_json, search_tickets
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.callback_outcomes import OutcomeRefused, record_outcome
from ngcc112.tickets.closing import needs_override
from ngcc112.tickets.store import jsonable

routes = web.RouteTableDef()


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
    return await run_use_case(
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
        return await not_found(request)
    errors = validate_close(needs_override(current), reason)
    if errors:
        return await _invalid(request, errors, {"override_reason": reason})
    panel = request.app[PANEL]
    return await run_use_case(
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
            return await not_found(request)
        if exc.status == 403:
            return await error_response(request, 403, "Your role may not do this", code="role")
        if exc.field is not None:
            return await _invalid(request, {exc.field: exc.msgid or exc.reason}, {"outcome": outcome})
        message = request[GETTEXT](exc.msgid) if exc.msgid else exc.reason
        return web.json_response({"error": message, "code": exc.code}, status=exc.status)
    return web.json_response(jsonable({"ticket_id": ticket_id, "outcome": outcome, "at": change.at}))


@routes.post("/api/dispatch/dispatches/{dispatch_id:\\d+}/status")
@require(DISPATCHER)
async def dispatcher_status(request: web.Request) -> web.Response:
    """The dispatcher records an agency's status on its behalf (audited as ``on_behalf_of``)."""
    return await status_update(request)


@routes.post("/api/dispatch/dispatches/{dispatch_id:\\d+}/report")
@require(DISPATCHER)
async def dispatcher_report(request: web.Request) -> web.Response:
    return await field_report(request)
