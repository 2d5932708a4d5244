"""Server-rendered pages. Every page has a JSON twin in :mod:`ngcc112.panel.api`."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from ngcc112.ami.link import AmiActionTimeout, AmiNotConnected
from ngcc112.panel import labels
from ngcc112.panel.auth import check_login, choose_language, csrf_token, error_response, log_in, log_out, require
from ngcc112.panel.i18n import LANGUAGE_NAMES, LANGUAGES
from ngcc112.panel.state import GETTEXT, LANG, PANEL, USER, desk_view, presence_view, ticket_view
from ngcc112.routing.presence import BREAK_REASONS, Presence, PresenceError, check_reason
from ngcc112.tickets import intake
from ngcc112.tickets.models import User
from ngcc112.tickets.users import INTERFACE_PATTERN
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()
OPERATOR = Role.OPERATOR.value
#: Where ``/`` sends each role other than operators, when a mounted module has its own page
#: for it (e.g. ``{"dispatcher": "/dispatch"}``); otherwise the shared board.
HOMES = web.AppKey("ngcc112_homes", dict)
INTAKE_TARGET_SECONDS = 60


async def context(request: web.Request) -> dict[str, Any]:
    """What every template sees."""
    user: User | None = request.get(USER)
    return {
        "_": request[GETTEXT],
        "lang": request[LANG],
        "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "user": user,
        "csrf_token": await csrf_token(request),
        "labels": labels,
        "path": request.path_qs,
        "intake_values": intake_values,
    }


_DIALLABLE = re.compile(r"\+?[0-9]{3,20}")


def intake_values(ticket: dict[str, Any], form_values: dict[str, str] | None) -> dict[str, str]:
    """The intake form's values: what was typed (after an error), else the saved intake,
    else what the call told us (caller ID, name, position)."""
    if form_values is not None:
        return {key: str(form_values.get(key) or "") for key in intake.FIELDS}
    saved = ticket.get("intake") or {}
    location = ticket.get("location") or {}
    number = ticket.get("caller_number") or ""

    def pick(key: str, fallback: object = None) -> str:
        value = saved.get(key)
        if value in (None, ""):
            value = fallback
        return "" if value is None else str(value)

    return {
        "caller_name": pick("caller_name", ticket.get("caller_name")),
        "callback_number": pick("callback_number", number if _DIALLABLE.fullmatch(number) else None),
        "address": pick("address"),
        "latitude": pick("latitude", location.get("latitude")),
        "longitude": pick("longitude", location.get("longitude")),
        "category": ticket.get("category") or "",
        "description": pick("description"),
        "verdict": ticket.get("verdict") or pick("draft_verdict"),
        "note": ticket.get("note") or pick("draft_note"),
    }


async def render(request: web.Request, template: str, values: dict[str, Any], status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**await context(request), **values},
                                              status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def render_error(request: web.Request, status: int, message: str) -> web.Response:
    return await render(request, "error.html", {"status": status, "message": message}, status=status)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target:
        return "/"
    return target


async def _flash(request: web.Request, message: str | None = None) -> str | None:
    session = await get_session(request)
    if message is not None:
        session["flash"] = message
        return None
    return session.pop("flash", None)


# -- login ------------------------------------------------------------------------------


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is not None:
        raise web.HTTPSeeOther("/")
    return await render(request, "login.html", {"next": safe_next(request.query.get("next")),
                                           "username": "", "errors": {}})


@routes.post("/login")
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"
    user = None
    if not errors:
        user, refusal_message = await check_login(request, username, password)
        if user is None:
            errors["form"] = refusal_message
    if user is None:
        status = 422 if "form" not in errors else 401
        if errors.get("form", "").startswith("Too many"):
            status = 429
        return await render(request, "login.html", {"next": target, "username": username, "errors": errors},
                            status=status)
    await log_in(request, user)
    raise web.HTTPSeeOther(target)


@routes.post("/logout")
async def logout_submit(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get(USER)
    if user is not None and user.role == OPERATOR and user.interface:
        await _leave_queue(request, user)
    await log_out(request)
    raise web.HTTPSeeOther("/login")


async def _leave_queue(request: web.Request, user: User) -> None:
    """An operator who logs out of the panel leaves the queue: no calls ring an empty desk."""
    panel = request.app[PANEL]
    if panel.presence.get(user.interface or "").presence is Presence.LOGGED_OUT:
        return
    try:
        await panel.control.logout(user.interface or "")
    except (AmiNotConnected, AmiActionTimeout, PresenceError):
        pass  # Asterisk is away: the queue forgets members on restart, or the supervisor resets it


@routes.post("/lang")
async def language_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    language = str(form.get("language", ""))
    if language in LANGUAGES:
        await choose_language(request, language)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))


# -- pages ------------------------------------------------------------------------------


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


async def operator_page(request: web.Request, user: User, *, form_values: dict[str, str] | None = None,
                        form_errors: dict[str, str] | None = None, form_ticket_id: int | None = None,
                        status: int = 200, presence_error: str | None = None) -> web.Response:
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    member = panel.presence.get(user.interface or "")
    values = {
        "presence": presence_view(member, translate),
        "break_reasons": BREAK_REASONS,
        "desk": await desk_view(panel, user),
        "form_values": form_values,
        "form_errors": form_errors or {},
        "form_ticket_id": form_ticket_id,
        "presence_error": presence_error,
        "flash": await _flash(request),
        "server_now": datetime.now(timezone.utc).isoformat(),
        "intake_target": INTAKE_TARGET_SECONDS,
        "categories": intake.CATEGORIES,
        "verdicts": intake.VERDICTS,
        "ami_connected": panel.services.daemon.link.connected,
    }
    return await render(request, "operator.html", values, status=status)


async def board_values(request: web.Request) -> dict[str, Any]:
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    tickets = [await ticket_view(panel, t, history=False) for t in await panel.services.store.recent(30)]
    return {"tickets": tickets,
            "members": [presence_view(m, translate) for m in panel.presence.members()]}


@routes.get("/board", name="board")
@require(OPERATOR, Role.DISPATCHER.value, Role.ADMIN.value)
async def board(request: web.Request) -> web.StreamResponse:
    """The room at a glance, for every role: who is in the queue, the latest tickets."""
    return await board_page(request, request[USER])


async def board_page(request: web.Request, user: User) -> web.Response:
    values = await board_values(request)
    values["flash"] = await _flash(request)
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
    panel = request.app[PANEL]
    return await render(request, "_desk.html", {
        "desk": await desk_view(panel, user), "form_values": None, "form_errors": {},
        "form_ticket_id": None,
        "server_now": datetime.now(timezone.utc).isoformat(),
        "intake_target": INTAKE_TARGET_SECONDS, "categories": intake.CATEGORIES,
        "verdicts": intake.VERDICTS,
    })


@routes.post("/presence")
@require(OPERATOR)
async def presence_submit(request: web.Request) -> web.StreamResponse:
    user: User = request[USER]
    form = await request.post()
    message = await change_presence(request, user, str(form.get("presence", "")),
                                    str(form.get("reason", "")))
    if message is not None:
        return await operator_page(request, user, presence_error=message[1], status=message[0])
    raise web.HTTPSeeOther("/")


async def change_presence(request: web.Request, user: User, wanted: str,
                          reason: str) -> tuple[int, str] | None:
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
        exc.kind, (409, "This action is not possible for this ticket now"))


@routes.post("/tickets/{ticket_id:\\d+}/intake")
@require(OPERATOR, Role.DISPATCHER.value)
async def intake_submit(request: web.Request) -> web.StreamResponse:
    """The intake form: ``action=save`` keeps a draft, ``action=submit`` classifies and escalates/closes."""
    user: User = request[USER]
    panel = request.app[PANEL]
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    raw = {key: str(form[key]) for key in intake.FIELDS if key in form}
    final = form.get("action") != "save"
    try:
        data = intake.validate_intake(raw, final=final)
        if final:
            changed = await intake.complete_intake(panel.services.sessions, panel.services.hub.publish,
                                                   ticket_id, user, data)
            notice = "Ticket escalated to the dispatchers" if changed[-1].state == "escalated" \
                else "Ticket closed"
        else:
            await intake.save_intake(panel.services.sessions, panel.services.hub.publish,
                                     ticket_id, user, data)
            notice = "Saved"
    except intake.IntakeInvalid as exc:
        errors = {**exc.errors, "form": "Please correct the marked fields"}
        desk = await desk_view(panel, user) if user.role == OPERATOR else {"active": None}
        active = desk["active"]
        if active is not None and active["ticket"] is not None and active["ticket"]["id"] == ticket_id:
            return await operator_page(request, user, form_values={**raw, **exc.values},
                                       form_errors=errors, form_ticket_id=ticket_id, status=422)
        return await render_error(request, 422, request[GETTEXT]("Please correct the marked fields"))
    except intake.IntakeRefused as exc:
        status, message = refusal(exc)
        return await render_error(request, status, f"{request[GETTEXT](message)} ({exc.reason})")
    await _flash(request, notice)
    raise web.HTTPSeeOther("/")
