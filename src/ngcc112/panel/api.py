"""The JSON API behind every page (described in :mod:`ngcc112.panel.openapi`).

Each handler reads its input with :func:`~ngcc112.panel.api_models.read.read_model` (or
``read_query``) and the model its route table names; a refusal is answered by
:func:`ngcc112.panel.bodies.refusal` (400 not JSON, 422 per field)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import structlog
from aiohttp import web

from ngcc112.panel.api_models import session, tickets
from ngcc112.panel.api_models.fields import Body, Empty
from ngcc112.panel.api_models.read import read_model, read_query
from ngcc112.panel.auth import check_login, choose_language, error_response, log_in, log_out, require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.csrf import csrf_token
from ngcc112.panel.health import database_ok, health_body
from ngcc112.panel.metrics import monitoring_allowed
from ngcc112.panel.operator.calls import INTAKE_STATES
from ngcc112.panel.operator.views import OPERATOR, change_presence, intake_finished, leave_queue, refusal
from ngcc112.panel.state import GETTEXT, LANG, PANEL, USER, Panel, desk_view, presence_view, ticket_view
from ngcc112.tickets import drafts, intake, intake_form
from ngcc112.tickets.models import Ticket, User
from ngcc112.tickets.states import Role
from ngcc112.tickets.store import TicketChanged, jsonable

log = structlog.get_logger(__name__)

routes = web.RouteTableDef()
DISPATCHER = Role.DISPATCHER.value
ADMIN = Role.ADMIN.value
AGENCY = Role.AGENCY.value


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "display_name": user.display_name,
        "role": user.role,
        "interface": user.interface,
    }


async def _invalid(request: web.Request, errors: dict[str, str], values: dict[str, Any]) -> web.Response:
    translate = request[GETTEXT]
    return web.json_response(
        {
            "error": translate("Please correct the marked fields"),
            "code": "invalid",
            "errors": {k: translate(v) for k, v in errors.items()},
            "values": values,
        },
        status=422,
    )


# -- session ------------------------------------------------------------------------------


@routes.get("/api/session")
async def session_get(request: web.Request) -> web.Response:
    user: User | None = request.get(USER)
    return web.json_response(
        {"user": user_view(user) if user else None, "csrf_token": await csrf_token(request), "language": request[LANG]}
    )


@routes.post("/api/session")
async def session_create(request: web.Request) -> web.Response:
    try:
        login = await read_model(request, session.Login)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    username, password = login.username.strip(), login.password
    errors = {}
    if not username:
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"
    if errors:
        return await _invalid(request, errors, {"username": login.username})
    user, message = await check_login(request, username, password)
    if user is None:
        locked = message.startswith("Too many")
        return await error_response(
            request, 429 if locked else 401, message, code="throttled" if locked else "credentials"
        )
    token = await log_in(request, user)
    return web.json_response({"user": user_view(user), "csrf_token": token})


@routes.delete("/api/session")
@require()
async def session_delete(request: web.Request) -> web.StreamResponse:
    user: User = request[USER]
    if user.role == OPERATOR and user.interface:
        await leave_queue(request, user)
    await log_out(request)
    return web.Response(status=204)


@routes.post("/api/me/language")
async def language_set(request: web.Request) -> web.Response:
    try:
        choice = await read_model(request, session.LanguageChoice)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    await choose_language(request, choice.language)
    return web.json_response({"language": choice.language})


# -- operator desk ---------------------------------------------------------------------------


@routes.get("/api/me/state")
@require()
async def me_state(request: web.Request) -> web.Response:
    """Everything the page needs after a (re)connect: presence and the desk's calls."""
    user: User = request[USER]
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    presence = desk = None
    if user.interface:
        presence = presence_view(panel.presence.get(user.interface), translate)
        desk = await desk_view(panel, user)
    return web.json_response(
        {
            "user": user_view(user),
            "presence": presence,
            "desk": desk,
            "ami_connected": panel.services.daemon.link.connected,
            "server_time": datetime.now(timezone.utc).isoformat(),
        }
    )


@routes.post("/api/me/presence")
@require(OPERATOR)
async def me_presence(request: web.Request) -> web.Response:
    user: User = request[USER]
    try:
        change = await read_model(request, session.PresenceChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    wanted, reason = change.presence, change.reason
    failure = await change_presence(request, user, wanted, reason)
    if failure is not None:
        status, message = failure
        if status == 422:
            field = "reason" if wanted == "break" else "presence"
            return await _invalid(request, {field: message}, {"presence": wanted, "reason": reason})
        return await error_response(request, status, message, code="asterisk" if status >= 500 else "state")
    panel = request.app[PANEL]
    member = panel.presence.get(user.interface or "")
    return web.json_response({"presence": presence_view(member, panel.catalogs[request[LANG]])})


@routes.get("/api/presence")
@require(OPERATOR, DISPATCHER, ADMIN)
async def presence_board(request: web.Request) -> web.Response:
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    return web.json_response(
        {
            "queue": panel.queue,
            "synced": panel.presence.synced,
            "members": [presence_view(m, translate) for m in panel.presence.members()],
        }
    )


# -- tickets ---------------------------------------------------------------------------------


@routes.get("/api/tickets")
@require(OPERATOR, DISPATCHER, ADMIN)
async def tickets_list(request: web.Request) -> web.Response:
    panel = request.app[PANEL]
    try:
        query = read_query(request, tickets.TicketsQuery)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    limit = max(1, min(200, query.limit))
    found = [await ticket_view(panel, t, history=False) for t in await panel.services.store.recent(limit)]
    return web.json_response({"tickets": found})


async def _ticket_or_404(request: web.Request) -> Ticket | web.Response:
    ticket = await request.app[PANEL].services.store.get(int(request.match_info["ticket_id"]))
    if ticket is None:
        return await error_response(request, 404, "Not found", code="not_found")
    return ticket


@routes.get("/api/tickets/{ticket_id:\\d+}")
@require(OPERATOR, DISPATCHER, ADMIN)
async def ticket_get(request: web.Request) -> web.Response:
    panel = request.app[PANEL]
    found = await _ticket_or_404(request)
    if isinstance(found, web.Response):
        return found
    view = await ticket_view(panel, found)
    view["audit"] = [
        jsonable(
            {
                "at": a.at,
                "actor": a.actor,
                "action": a.action,
                "from_state": a.from_state,
                "to_state": a.to_state,
                "changes": a.changes,
            }
        )
        for a in await panel.services.store.audit(found.id)
    ]
    return web.json_response(view)


async def _use_case(request: web.Request, model: type[Body], run, *, finishes: bool = False) -> web.Response:  # type: ignore[no-untyped-def]
    """Run one intake use case on the JSON body read as ``model`` (the fields sent, as a dict);
    ``finishes``: a submitted intake (its drafts go and the operator's after-call work ends once
    the ticket has left the intake)."""
    panel = request.app[PANEL]
    user: User = request[USER]
    ticket_id = int(request.match_info["ticket_id"])
    try:
        body = (await read_model(request, model)).model_dump(exclude_unset=True)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    try:
        changed = await run(panel, user, ticket_id, body)
    except intake_form.IntakeInvalid as exc:
        return await _invalid(request, exc.errors, {**{k: body.get(k) for k in body}, **exc.values})
    except intake.IntakeRefused as exc:
        status, message = refusal(exc)
        return web.json_response(
            {"error": request[GETTEXT](message), "detail": exc.reason, "code": exc.kind}, status=status
        )
    last: TicketChanged = changed[-1] if isinstance(changed, list) else changed
    if finishes and last.state not in INTAKE_STATES:
        await intake_finished(request, user, ticket_id, last.linkedid)
    ticket = await panel.services.store.get(ticket_id)
    return web.json_response(
        {"ticket": await ticket_view(panel, ticket) if ticket else None, "state": last.state, "action": last.action}
    )


def _publish(panel: Panel) -> Callable[[Any], None]:
    return panel.services.hub.publish


@routes.post("/api/tickets/{ticket_id:\\d+}/intake")
@require(OPERATOR, DISPATCHER)
async def ticket_intake(request: web.Request) -> web.Response:
    """Save the intake so far (a draft); no state change."""
    return await _use_case(
        request,
        tickets.IntakeInput,
        lambda panel, user, tid, body: intake.save_intake(
            panel.services.sessions, _publish(panel), tid, user, intake_form.validate_intake(body, final=False)
        ),
    )


@routes.post("/api/tickets/{ticket_id:\\d+}/draft")
@require(OPERATOR)
async def ticket_draft(request: web.Request) -> web.Response:
    """Keep what the operator typed so far, as typed (valid or not yet): the page autosaves here."""
    panel = request.app[PANEL]
    user: User = request[USER]
    ticket_id = int(request.match_info["ticket_id"])
    try:
        draft = await read_model(request, tickets.Draft)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    if not await drafts.draftable(panel.services.sessions, ticket_id, user.interface):
        return await error_response(request, 409, "This action is not possible for this ticket now", code="conflict")
    values = await drafts.save_draft(panel.services.sessions, ticket_id, user.id, draft.typed())
    return web.json_response({"ticket_id": ticket_id, "draft": values})


@routes.post("/api/tickets/{ticket_id:\\d+}/classify")
@require(OPERATOR, DISPATCHER)
async def ticket_classify(request: web.Request) -> web.Response:
    return await _use_case(
        request,
        tickets.IntakeInput,
        lambda panel, user, tid, body: intake.classify(
            panel.services.sessions, _publish(panel), tid, user, intake_form.validate_intake(body, final=True)
        ),
    )


@routes.post("/api/tickets/{ticket_id:\\d+}/escalate")
@require(OPERATOR, DISPATCHER)
async def ticket_escalate(request: web.Request) -> web.Response:
    return await _use_case(
        request,
        Empty,
        lambda panel, user, tid, body: intake.escalate(panel.services.sessions, _publish(panel), tid, user),
        finishes=True,
    )


@routes.post("/api/tickets/{ticket_id:\\d+}/close")
@require(OPERATOR, DISPATCHER)
async def ticket_close(request: web.Request) -> web.Response:
    return await _use_case(
        request,
        tickets.CloseNote,
        lambda panel, user, tid, body: intake.close_by_operator(
            panel.services.sessions, _publish(panel), tid, user, body["note"]
        ),
        finishes=True,
    )


@routes.post("/api/tickets/{ticket_id:\\d+}/complete")
@require(OPERATOR, DISPATCHER)
async def ticket_complete(request: web.Request) -> web.Response:
    """Classify and then escalate (normal) or close (the others), in one transaction."""
    return await _use_case(
        request,
        tickets.IntakeInput,
        lambda panel, user, tid, body: intake.complete_intake(
            panel.services.sessions, _publish(panel), tid, user, intake_form.validate_intake(body, final=True)
        ),
        finishes=True,
    )


# -- operations --------------------------------------------------------------------------------


def _health_answer(request: web.Request, body: dict[str, object]) -> dict[str, object]:
    """The whole body for the center's monitoring, only the status and the node's role for anyone else."""
    return body if monitoring_allowed(request) else {"status": body["status"], "role": body["role"]}


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    """Liveness: 200 while the daemon runs, within a second whatever is down; the body says
    what is degraded (AMI link, database, the backlog of events waiting for the database)
    to the center's monitoring, only ``status`` to anyone else."""
    db_ok, db_error = await database_ok(request)
    return web.json_response(_health_answer(request, health_body(request, db_ok, db_error)))


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """Readiness for load balancers and systemd: 200 when the database answers and (on the
    leader) the link is logged in to Asterisk, 503 otherwise; ``role`` says leader or standby
    (same body as /healthz)."""
    db_ok, db_error = await database_ok(request)
    body = health_body(request, db_ok, db_error)
    return web.json_response(_health_answer(request, body), status=200 if body["status"] == "ok" else 503)
