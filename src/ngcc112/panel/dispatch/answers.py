"""What the dispatch, agency, reports and admin JSON APIs answer when a use case refuses, and the two
dispatch updates both a dispatcher (on an agency's behalf) and the agency itself post.

Refusals, as everywhere in the panel: 401 not logged in, 403 wrong role or no CSRF token
(the panel's middleware), 404 for what does not exist *or* is not this user's to see
(another agency's dispatch), 409 for a transition the state table refuses (the reason in
``error``), 422 with per-field ``errors`` and the ``values`` sent, 503 when Asterisk is away.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from ngcc112.panel.agency.validate import validate_report, validate_status
from ngcc112.panel.api import _invalid
from ngcc112.panel.api_models import dispatch as models
from ngcc112.panel.api_models.read import read_model
from ngcc112.panel.auth import error_response
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.forms import refusal_reason
from ngcc112.panel.state import PANEL, USER
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.states import TransitionRefused


def conflict(request: web.Request, exc: TransitionRefused) -> web.Response:
    """409; a refusal that carries a ``msgid`` is told in the user's language."""
    return web.json_response({"error": refusal_reason(request, exc), "code": "state"}, status=409)


async def not_found(request: web.Request) -> web.Response:
    return await error_response(request, 404, "Not found", code="not_found")


async def run_use_case(
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
        return conflict(request, exc)
    return web.json_response(await ok(result))


async def dispatch_result(view: dispatching.DispatchView) -> dict[str, Any]:
    return {"dispatch": dispatching.dispatch_summary(view)}


async def status_update(request: web.Request) -> web.Response:
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
    return await run_use_case(
        request,
        lambda: dispatching.update_status(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, status, reason or None, request[USER]
        ),
        values,
        dispatch_result,
    )


async def field_report(request: web.Request) -> web.Response:
    dispatch_id = int(request.match_info["dispatch_id"])
    try:
        text = (await read_model(request, models.FieldReport)).report
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    errors = validate_report(text)
    if errors:
        return await _invalid(request, errors, {"report": text})
    panel = request.app[PANEL]
    return await run_use_case(
        request,
        lambda: dispatching.file_report(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, text, request[USER]
        ),
        {"report": text},
        dispatch_result,
    )
