"""The logged-in user's own account: change my password (page and JSON twin).

The current password proves it is the user and not someone at an unlocked desk; its
check goes through the login throttle and the password workers like a login. A change
ends every session of the user (other browsers, copied cookies) and starts a fresh one
here, with a new CSRF token.
"""

from __future__ import annotations


from aiohttp import web

from ngcc112.panel.auth import WRONG, check_login, error_response, log_in, require
from ngcc112.panel.api_models.read import read_model
from ngcc112.panel.api_models.session import PasswordChange
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.rendering import render
from ngcc112.panel.session_sockets import sessions_changed
from ngcc112.panel.state import GETTEXT, PANEL, USER
from ngcc112.tickets.models import User
from ngcc112.tickets.users import MAX_PASSWORD, MIN_PASSWORD, UserError, change_password

routes = web.RouteTableDef()
PAGE = "/account/password"

CHANGED = "Your password was changed. Your other sessions were logged out."


def _check(current: str, new: str, again: str | None) -> dict[str, str]:
    """Field → msgid of what is wrong before any password is checked."""
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = "Enter your current password"
    if not new:
        errors["new_password"] = "Enter a new password"
    elif len(new) < MIN_PASSWORD:
        errors["new_password"] = "The new password is too short (at least 8 characters)"
    elif len(new) > MAX_PASSWORD:
        errors["new_password"] = "The new password is too long"
    elif again is not None and new != again:
        errors["new_password_again"] = "The new passwords differ"
    return errors


async def _change(request: web.Request, current: str, new: str) -> tuple[int, dict[str, str], str | None]:
    """(status, errors, new CSRF token): check the current password, change, log in afresh."""
    user: User = request[USER]
    checked, refusal = await check_login(request, user.username, current)
    if checked is None:
        if refusal == WRONG:
            return 422, {"current_password": "The current password is wrong"}, None
        return 429, {"form": refusal}, None
    try:
        await change_password(request.app[PANEL].services.sessions, user.username, new, actor=user.username)
    except UserError as exc:  # the account vanished meanwhile
        return 422, {"form": exc.message}, None
    await sessions_changed(request)  # the other sessions' live channels close too
    return 200, {}, await log_in(request, checked)


@routes.get(PAGE, name="account_password")
@require()
async def password_page(request: web.Request) -> web.StreamResponse:
    return await render(request, "account.html", {"errors": {}, "done": False})


@routes.post(PAGE)
@require()
async def password_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    current, new, again = (
        str(form.get(name, "")) for name in ("current_password", "new_password", "new_password_again")
    )
    errors = _check(current, new, again)
    status = 422
    if not errors:
        status, errors, _token = await _change(request, current, new)
    return await render(request, "account.html", {"errors": errors, "done": not errors}, status=status)


@routes.post("/api/me/password")
@require()
async def password_api(request: web.Request) -> web.StreamResponse:
    try:
        body = await read_model(request, PasswordChange)
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    current, new = body.current_password, body.new_password
    errors = _check(current, new, None)
    if errors:
        return _invalid(request, errors)
    status, errors, token = await _change(request, current, new)
    if status == 429:
        return await error_response(request, 429, errors["form"], code="throttled")
    if errors:
        return _invalid(request, errors)
    translate = request[GETTEXT]
    return web.json_response({"message": translate(CHANGED), "csrf_token": token})


def _invalid(request: web.Request, errors: dict[str, str]) -> web.Response:
    translate = request[GETTEXT]
    return web.json_response(
        {
            "error": translate("Please correct the marked fields"),
            "code": "invalid",
            "errors": {k: translate(v) for k, v in errors.items()},
        },
        status=422,
    )


def setup(app: web.Application) -> None:
    """Mount the account page and its API on the panel ``app``."""
    app.add_routes(routes)
