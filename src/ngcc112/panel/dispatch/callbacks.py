"""Calling back abandoned calls: ``/callbacks``, placing a callback and recording its outcome
(reached / no answer / dismissed), from the board, the callbacks page or a ticket."""

from __future__ import annotations

from aiohttp import web

from ngcc112.ami.link import AmiNotConnected
from ngcc112.panel import form_memory
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.dispatch.board import callbacks_data
from ngcc112.panel.dispatch.ticket import ticket_form_key
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.form_memory import remember
from ngcc112.panel.forms import page_form_key, page_refusal, refuse_form
from ngcc112.panel.pages import page_values
from ngcc112.panel.rendering import flash, render, render_error
from ngcc112.panel.roles import ADMIN, DISPATCHER, OPERATOR
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.tickets.callback_outcomes import OutcomeRefused, record_outcome
from ngcc112.tickets.callbacks import CallbackAttempt, CallbackRefused

routes = web.RouteTableDef()


async def place_callback(
    request: web.Request, ticket_id: int, click_id: str | None
) -> CallbackAttempt | tuple[int, str, str]:
    """The callback, or (HTTP status, message, code) when it was not placed."""
    state = request.app[DISPATCH]
    try:
        return await state.callbacks.call_back(ticket_id, request[USER], click_id)
    except CallbackRefused as exc:
        return exc.status, exc.reason, exc.code
    except AmiNotConnected:
        return 503, "Asterisk is not connected: the callback was not placed. Try again in a moment.", "asterisk"


@routes.get("/callbacks", name="callbacks")
@require(OPERATOR, DISPATCHER, ADMIN)
async def callbacks_page(request: web.Request) -> web.StreamResponse:
    """Abandoned calls to call back: for operators (whose desk is elsewhere) as for dispatchers."""
    values = page_values(
        request,
        board=await callbacks_data(request),
        flash=await flash(request),
        **page_refusal(request, "/callbacks"),
    )
    return await render(request, "dispatch/callbacks.html", values)


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/callback")
@require(OPERATOR, DISPATCHER)
async def callback_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    result = await place_callback(request, ticket_id, str(form.get("click_id", "")) or None)
    ticket_page_path = f"/dispatch/tickets/{ticket_id}"
    back = {"board": "/dispatch", "callbacks": "/callbacks"}.get(str(form.get("back", "")), ticket_page_path)
    if request[USER].role != DISPATCHER:
        back = "/callbacks"
    translate = request[GETTEXT]
    text = None
    if isinstance(result, tuple):
        status, message, _code = result
        if status == 404:
            return await render_error(request, 404, translate("Not found"))
        text = translate(message) if status == 503 else f"{translate('The callback could not be placed')}: {message}"
    elif result.outcome == "refused":
        text = f"{translate('The callback could not be placed')}: {result.message}"
    if text is not None:
        key = ticket_form_key(ticket_id) if back == ticket_page_path else page_form_key(back)
        raise refuse_form(request, key, {}, {form_memory.FORM: text}, back)
    await flash(request, "Callback placed: your softphone rings first")
    raise web.HTTPSeeOther(back)


async def record_callback_outcome(request: web.Request, ticket_id: int, outcome: str) -> str | None:
    """Record the outcome; None when done, else the refusal in the user's language (raises 404/403 as
    :class:`OutcomeRefused` for the caller to answer)."""
    panel = request.app[PANEL]
    try:
        await record_outcome(panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], outcome)
    except OutcomeRefused as exc:
        if exc.status in (403, 404):
            raise
        return request[GETTEXT](exc.msgid) if exc.msgid else exc.reason
    return None


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/callback/outcome")
@require(OPERATOR, DISPATCHER)
async def callback_outcome_submit(request: web.Request) -> web.StreamResponse:
    """Reached / no answer / dismissed, from the callbacks list; back to it (post/redirect/get)."""
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    back = "/dispatch" if str(form.get("back", "")) == "board" and request[USER].role == DISPATCHER else "/callbacks"
    try:
        refused = await record_callback_outcome(request, ticket_id, str(form.get("outcome", "")))
    except OutcomeRefused as exc:
        if exc.status == 404:
            return await render_error(request, 404, request[GETTEXT]("Not found"))
        return await error_response(request, 403, "Your role may not do this", code="role")
    if refused is not None:  # told on the callbacks page, where the row is
        remember(request, page_form_key("/callbacks"), {"ticket_id": str(ticket_id)}, {"outcome": refused})
        raise web.HTTPSeeOther("/callbacks")
    await flash(request, "Outcome recorded")
    raise web.HTTPSeeOther(back)
