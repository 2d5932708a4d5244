"""The operator's desk, server-rendered: the home page by role, the desk and its fragments, the
shared board, presence, the intake form and the call note. Every page has a JSON twin in
:mod:`ngcc112.panel.api`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web
from aiohttp_session import get_session

from ngcc112.ami.link import AmiActionTimeout, AmiNotConnected
from ngcc112.panel import labels
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.outage import is_database_away
from ngcc112.panel.rendering import flash, render, render_error
from ngcc112.panel.state import GETTEXT, LANG, PANEL, USER, desk_view, presence_view, ticket_view
from ngcc112.routing.presence import BREAK_REASONS, Presence, PresenceError, check_reason
from ngcc112.tickets import drafts, intake, intake_form
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role
from ngcc112.tickets.users import INTERFACE_PATTERN

routes = web.RouteTableDef()
OPERATOR = Role.OPERATOR.value
#: Where ``/`` sends each role other than operators, when a mounted module has its own page
#: for it (e.g. ``{"dispatcher": "/dispatch"}``); otherwise the shared board.
HOMES = web.AppKey("ngcc112_homes", dict)
INTAKE_TARGET_SECONDS = 60


async def leave_queue(request: web.Request, user: User) -> None:
    """An operator who logs out of the panel leaves the queue: no calls ring an empty desk."""
    panel = request.app[PANEL]
    if panel.presence.get(user.interface or "").presence is Presence.LOGGED_OUT:
        return
    try:
        await panel.control.logout(user.interface or "")
    except (AmiNotConnected, AmiActionTimeout, PresenceError):
        pass  # Asterisk is away: the queue forgets members on restart, or the supervisor resets it


@routes.get("/", name="index")
@require()
async def index(request: web.Request) -> web.StreamResponse:
    user: User = request[USER]
    if user.role == OPERATOR:
        return await operator_page(request, user)
    home = request.app.get(HOMES, {}).get(user.role)
    if home:
        raise web.HTTPSeeOther(home)
    if user.role == Role.AGENCY.value:  # agencies see only their own dispatches, never the room
        return await error_response(request, 403, "Your role may not do this", code="role")
    return await board_page(request, user)


async def operator_page(request: web.Request, user: User, *, status: int = 200) -> web.Response:
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    member = panel.presence.get(user.interface or "")
    session = await get_session(request)
    selected = _ticket_param(request.query.get("ticket"))
    if selected is None:
        selected = session.pop("desk_ticket", None)
    values = {
        "presence": presence_view(member, translate),
        "break_reasons": BREAK_REASONS,
        "presence_error": session.pop("presence_error", None),
        "desk_error": session.pop("desk_error", None),
        "flash": await flash(request),
        "ami_connected": panel.services.daemon.link.connected,
        **await desk_values(request, user, selected, errors=session.pop("intake_errors", None)),
    }
    return await render(request, "operator.html", values, status=status)


def _ticket_param(raw: object) -> int | None:
    text = str(raw) if raw is not None else ""
    return int(text) if text.isdigit() and len(text) < 12 else None


async def desk_values(
    request: web.Request, user: User, selected: int | None, *, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What _desk.html needs: the desk, the form's values (the saved draft over the ticket's
    data) and, after a refused submit, its errors (kept in the session across the redirect)."""
    panel = request.app[PANEL]
    desk = await desk_view(panel, user, selected)
    active = desk["active"]
    ticket = active["ticket"] if active else None
    form_values = form_errors = None
    if ticket is not None:
        form_values = await _draft(request, user, ticket["id"])
    if errors and ticket is not None and errors.get("ticket_id") == ticket["id"]:
        form_errors = dict(errors.get("errors") or {})
    followup = desk["followup"]
    note_errors = (
        errors.get("errors")
        if errors and followup and followup["ticket"] and errors.get("ticket_id") == followup["ticket"]["id"]
        else None
    )
    note_value = note_errors and (errors or {}).get("values", {}).get("call_note", "") or ""
    if followup and followup["ticket"] and not note_errors:
        note_value = ((await _draft(request, user, followup["ticket"]["id"])) or {}).get("call_note", "")
    wrapup = panel.wrapup
    deadline = wrapup.deadline(user.interface)
    return {
        "desk": desk,
        "form_values": form_values,
        "form_errors": form_errors or {},
        "form_ticket_id": ticket["id"] if ticket else None,
        "note_errors": note_errors or {},
        "note_value": note_value,
        "wrapup_deadline": deadline.isoformat() if deadline else None,
        "wrapup_expired": wrapup.expired_at(user.interface) is not None,
        "server_now": datetime.now(timezone.utc).isoformat(),
        "intake_target": INTAKE_TARGET_SECONDS,
        "categories": intake_form.CATEGORIES,
        "verdicts": intake_form.VERDICTS,
        "verdict_keys": labels.VERDICT_KEYS,
        "verdict_notes": labels.VERDICT_NOTES,
    }


async def _draft(request: web.Request, user: User, ticket_id: int) -> dict[str, str] | None:
    """The user's draft of the ticket; None when there is none or the database is away."""

    if user.id is None:
        return None
    try:
        return await drafts.load_draft(request.app[PANEL].services.sessions, ticket_id, user.id)
    except Exception as exc:
        if not is_database_away(exc):
            raise
        return None


async def board_values(request: web.Request) -> dict[str, Any]:
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    tickets = [await ticket_view(panel, t, history=False) for t in await panel.services.store.recent(30)]
    return {"tickets": tickets, "members": [presence_view(m, translate) for m in panel.presence.members()]}


@routes.get("/board", name="board")
@require(OPERATOR, Role.DISPATCHER.value, Role.ADMIN.value)
async def board(request: web.Request) -> web.StreamResponse:
    """The room at a glance, for every role: who is in the queue, the latest tickets."""
    return await board_page(request, request[USER])


async def board_page(request: web.Request, user: User) -> web.Response:
    values = await board_values(request)
    values["flash"] = await flash(request)
    return await render(request, "board.html", values)


@routes.get("/panel/board")
@require(OPERATOR, Role.DISPATCHER.value, Role.ADMIN.value)
async def board_fragment(request: web.Request) -> web.StreamResponse:
    return await render(request, "_board.html", await board_values(request))


@routes.get("/panel/call")
@require(OPERATOR)
async def call_fragment(request: web.Request) -> web.StreamResponse:
    """The operator's desk (ringing call, active call with its intake form) as an HTML fragment."""
    user: User = request[USER]
    return await render(
        request, "_desk.html", await desk_values(request, user, _ticket_param(request.query.get("ticket")))
    )


@routes.post("/presence")
@require(OPERATOR)
async def presence_submit(request: web.Request) -> web.StreamResponse:
    user: User = request[USER]
    form = await request.post()
    message = await change_presence(request, user, str(form.get("presence", "")), str(form.get("reason", "")))
    if message is not None:  # post/redirect/get: the refusal shows on the page it came from
        session = await get_session(request)
        session["presence_error"] = message[1]
    raise web.HTTPSeeOther("/")


async def change_presence(request: web.Request, user: User, wanted: str, reason: str) -> tuple[int, str] | None:
    """Ask Asterisk for the change; None when done, else (HTTP status, message msgid)."""
    panel = request.app[PANEL]
    if not user.interface:
        return 409, "This account has no softphone interface; ask an administrator"
    if not INTERFACE_PATTERN.fullmatch(user.interface):  # stored before the validators matched whole values
        return 409, "This account's softphone interface is not valid; ask an administrator"
    if wanted not in {p.value for p in Presence}:
        return 422, "Choose ready, break or logged out"
    if wanted == Presence.BREAK.value:
        try:
            reason = check_reason(reason)
        except ValueError:
            return 422, "Choose a break reason from the list"
        if reason not in BREAK_REASONS:
            return 422, "Choose a break reason from the list"
    try:
        await panel.control.set(wanted, user.interface, user.display_name or user.username, reason)
    except AmiNotConnected:
        return 503, "Asterisk is not connected: your status could not be changed. Try again in a moment."
    except AmiActionTimeout:
        return 504, "Asterisk did not answer in time. Try again."
    except PresenceError:
        return 502, "Asterisk refused the change"
    await panel.live.wait_presence(user.interface, wanted, timeout=1.0)
    return None


def refusal(exc: intake.IntakeRefused) -> tuple[int, str]:
    """HTTP status and message (msgid) for a refused use case; ``exc.reason`` has the details."""
    return {"not_found": (404, "Not found"), "forbidden": (403, "Your role may not do this")}.get(
        exc.kind, (409, "This action is not possible for this ticket now")
    )


@routes.post("/tickets/{ticket_id:\\d+}/intake")
@require(OPERATOR, Role.DISPATCHER.value)
async def intake_submit(request: web.Request) -> web.StreamResponse:
    """The intake form: ``action=save`` keeps a draft, ``action=submit`` classifies and escalates/closes.

    Post/redirect/get: every outcome answers 303 to ``/``. What was typed stays in the
    server-side draft, a refusal's errors in the session, so the page shows them again.
    """
    user: User = request[USER]
    panel = request.app[PANEL]
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    raw = {key: str(form[key]) for key in intake_form.FIELDS if key in form}
    final = form.get("action") != "save"
    session = await get_session(request)
    try:
        if user.role == OPERATOR and raw and await drafts.draftable(panel.services.sessions, ticket_id, user.interface):
            # keep what was typed before anything can refuse it
            await drafts.save_draft(panel.services.sessions, ticket_id, user.id, raw)
        data = intake_form.validate_intake(raw, final=final)
        if final:
            changed = await intake.complete_intake(
                panel.services.sessions, panel.services.hub.publish, ticket_id, user, data
            )
            notice = "Ticket escalated to the dispatchers" if changed[-1].state == "escalated" else "Ticket closed"
            await intake_finished(request, user, ticket_id, changed[-1].linkedid)
        else:
            await intake.save_intake(panel.services.sessions, panel.services.hub.publish, ticket_id, user, data)
            notice = "Saved"
    except intake_form.IntakeInvalid as exc:
        if user.role != OPERATOR:
            return await render_error(request, 422, request[GETTEXT]("Please correct the marked fields"))
        session["intake_errors"] = {"ticket_id": ticket_id, "errors": dict(exc.errors)}
        session["desk_ticket"] = ticket_id
        raise web.HTTPSeeOther("/") from None
    except intake.IntakeRefused as exc:
        if user.role == OPERATOR:
            await _refused(request, exc)
        status, message = refusal(exc)
        return await render_error(request, status, f"{request[GETTEXT](message)} ({exc.reason})")
    await flash(request, notice)
    if not final:
        session["desk_ticket"] = ticket_id
    raise web.HTTPSeeOther("/")


async def _refused(request: web.Request, exc: intake.IntakeRefused) -> None:
    """Post/redirect/get for a refused use case: the refusal shows at the top of the desk."""
    session = await get_session(request)
    session["desk_error"] = [refusal(exc)[1], exc.reason[:300]]
    raise web.HTTPSeeOther("/")


async def intake_finished(request: web.Request, user: User, ticket_id: int, call_id: str | None) -> None:
    """After a submitted intake: its drafts go, and the operator's after-call work ends."""
    panel = request.app[PANEL]
    await drafts.clear_drafts(panel.services.sessions, ticket_id)
    if user.role == OPERATOR:
        await panel.wrapup.intake_done(user.interface, call_id)


@routes.post("/tickets/{ticket_id:\\d+}/note")
@require(OPERATOR, Role.DISPATCHER.value)
async def call_note_submit(request: web.Request) -> web.StreamResponse:
    """A note about the call after its ticket went to the dispatchers (the caller still talks)."""
    user: User = request[USER]
    panel = request.app[PANEL]
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    text = str(form.get("call_note", ""))
    session = await get_session(request)
    try:
        await intake.add_call_note(panel.services.sessions, panel.services.hub.publish, ticket_id, user, text)
    except intake_form.IntakeInvalid as exc:
        session["intake_errors"] = {
            "ticket_id": ticket_id,
            "errors": dict(exc.errors),
            "values": {"call_note": text[:1000]},
        }
        raise web.HTTPSeeOther("/") from None
    except intake.IntakeRefused as exc:
        if user.role == OPERATOR:
            await _refused(request, exc)
        status, message = refusal(exc)
        return await render_error(request, status, f"{request[GETTEXT](message)} ({exc.reason})")
    await drafts.clear_drafts(panel.services.sessions, ticket_id, fields=drafts.NOTE_FIELDS)
    await flash(request, "Note added to the ticket")
    raise web.HTTPSeeOther("/")
