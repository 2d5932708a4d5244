"""``/dispatch/tickets/{id}``: one ticket for the dispatcher (every dispatch, the audit trail, what
may be done), and its Dispatch and Close Ticket forms with their checks."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ngcc112.panel import form_memory
from ngcc112.panel.auth import require
from ngcc112.panel.dispatch.audit import audit_trail
from ngcc112.panel.dispatch.board import judged
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.forms import error_summary, form_list, refuse_form, refused_text, translate_errors
from ngcc112.panel.pages import page_values
from ngcc112.panel.refusals import field_error
from ngcc112.panel.rendering import flash, render, render_error
from ngcc112.panel.roles import ADMIN, DISPATCHER, OPERATOR
from ngcc112.panel.state import GETTEXT, PANEL, USER, ticket_view
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.callbacks import callback_number as callback_number_of
from ngcc112.tickets.closing import needs_override
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.models import User
from ngcc112.tickets.states import State, TransitionRefused

routes = web.RouteTableDef()


async def ticket_data(request: web.Request, ticket_id: int) -> dict[str, Any]:
    """One ticket for the dispatcher: the ticket, every dispatch, the audit trail, what may be done.

    Raises :class:`~ngcc112.tickets.dispatch.NotFoundOrForbidden` for an unknown ticket.
    """
    state = request.app[DISPATCH]
    panel = state.panel
    user: User = request[USER]
    sessions = panel.services.sessions
    found = await dispatching.get_ticket_for(sessions, user, ticket_id)
    ticket = found.ticket
    view = await ticket_view(panel, ticket)
    now = state.now()
    judge = ticket.state != State.CLOSED.value
    dispatches = [
        judged(dispatching.dispatch_summary(v), v, state.targets, now)
        if judge
        else {**dispatching.dispatch_summary(v), "ack_overdue": False, "arrival_overdue": False}
        for v in found.dispatches
    ]
    on_ticket = {d["agency"] for d in dispatches}
    offered = [
        {"code": a.code, "name": a.name, "kind": a.kind}
        for a in await agency_admin.list_agencies(sessions, active_only=True)
        if a.code not in on_ticket
    ]
    is_dispatcher = user.role == DISPATCHER
    ticket_state = State(ticket.state)
    can_dispatch = is_dispatcher and ticket_state in (State.ESCALATED, *dispatching.WORKING_STATES)
    can_close = is_dispatcher and ticket_state in dispatching.CLOSABLE_STATES
    return {
        "ticket": view,
        "dispatches": dispatches,
        "audit": await audit_trail(request, ticket.id),
        "agencies": offered,
        "can_dispatch": can_dispatch and bool(offered),
        "can_close": can_close,
        "needs_override": can_close and ticket_state is not State.REPORTED,
        "can_callback": user.role in (OPERATOR, DISPATCHER)
        and bool(user.interface)
        and callback_number_of(ticket) is not None
        and ticket.state != State.CLOSED.value,
        "callback_number": callback_number_of(ticket),
        "callback_pending": state.callbacks.pending_for(ticket.id) is not None,
    }


def validate_dispatch(agencies: list[str], instructions: str) -> dict[str, str]:
    errors = {}
    if not agencies:
        errors["agencies"] = N_("Choose at least one agency")
    if len(instructions) > dispatching.MAX_INSTRUCTIONS:
        errors["instructions"] = N_("Too long")
    return errors


def validate_close(needs_override: bool, override_reason: str) -> dict[str, str]:
    if len(override_reason) > dispatching.MAX_REASON:
        return {"override_reason": N_("Too long")}
    if needs_override and not override_reason.strip():
        return {"override_reason": N_("Give the reason for closing before every agency has reported")}
    return {}


async def ticket_state_of(request: web.Request, ticket_id: int) -> str | None:
    ticket = await request.app[PANEL].services.store.get(ticket_id)
    return None if ticket is None else ticket.state


def ticket_form_key(ticket_id: int) -> str:
    return f"dispatch-ticket-{ticket_id}"


async def ticket_page(request: web.Request, ticket_id: int) -> web.Response:
    """The ticket page; a form refused just before (kept by :mod:`.form_memory`) shows its errors."""
    data = await ticket_data(request, ticket_id)
    kept = form_memory.recall(request, ticket_form_key(ticket_id))
    errors = {k: v for k, v in kept.errors.items() if k != form_memory.FORM} if kept else {}
    page = page_values(
        request,
        data=data,
        errors=errors,
        values=kept.values if kept else {},
        flash=await flash(request),
        summary=error_summary(kept.errors) if kept else [],
    )
    return await render(request, "dispatch/ticket.html", page)


@routes.get("/dispatch/tickets/{ticket_id:\\d+}", name="dispatch_ticket")
@require(DISPATCHER, ADMIN)
async def ticket_get(request: web.Request) -> web.StreamResponse:
    return await ticket_page(request, int(request.match_info["ticket_id"]))


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/dispatch")
@require(DISPATCHER)
async def dispatch_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    page = f"/dispatch/tickets/{ticket_id}"
    form = await request.post()
    chosen = form_list(form, "agencies")
    instructions = str(form.get("instructions", ""))
    values = {"agencies": chosen, "instructions": instructions}
    errors = translate_errors(request, validate_dispatch(chosen, instructions))
    if not errors:
        panel = request.app[PANEL]
        try:
            await dispatching.dispatch(
                panel.services.sessions, panel.services.hub.publish, ticket_id, chosen, instructions, request[USER]
            )
        except dispatching.DispatchError as exc:
            errors = field_error(request, exc)
        except TransitionRefused as exc:
            errors = {form_memory.FORM: refused_text(request, exc)}
    if errors:
        raise refuse_form(request, ticket_form_key(ticket_id), values, errors, page)
    await flash(request, "Dispatched to the agencies")
    raise web.HTTPSeeOther(page)


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/close")
@require(DISPATCHER)
async def close_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    page = f"/dispatch/tickets/{ticket_id}"
    form = await request.post()
    reason = str(form.get("override_reason", ""))
    values = {"override_reason": reason}
    current = await ticket_state_of(request, ticket_id)
    if current is None:
        return await render_error(request, 404, request[GETTEXT]("Not found"))
    errors = translate_errors(request, validate_close(needs_override(current), reason))
    if not errors:
        panel = request.app[PANEL]
        try:
            await dispatching.close(
                panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], reason or None
            )
        except dispatching.DispatchError as exc:
            errors = field_error(request, exc)
        except TransitionRefused as exc:
            errors = {form_memory.FORM: refused_text(request, exc)}
    if errors:
        raise refuse_form(request, ticket_form_key(ticket_id), values, errors, page)
    await flash(request, "Ticket closed")
    raise web.HTTPSeeOther(page)
