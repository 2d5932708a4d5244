"""Logging in and out, and choosing the language (``/login``, ``/logout``, ``/lang``)."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.auth import check_login, choose_language, log_in, log_out
from ngcc112.panel.i18n import LANGUAGES
from ngcc112.panel.operator.views import OPERATOR, leave_queue
from ngcc112.panel.rendering import render, safe_next
from ngcc112.panel.state import USER
from ngcc112.tickets.models import User

routes = web.RouteTableDef()


@routes.get("/login", name="login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(USER) is not None:
        raise web.HTTPSeeOther("/")
    return await render(
        request, "login.html", {"next": safe_next(request.query.get("next")), "username": "", "errors": {}}
    )


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
        return await render(
            request, "login.html", {"next": target, "username": username, "errors": errors}, status=status
        )
    await log_in(request, user)
    raise web.HTTPSeeOther(target)


@routes.post("/logout")
async def logout_submit(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get(USER)
    if user is not None and user.role == OPERATOR and user.interface:
        await leave_queue(request, user)
    await log_out(request)
    raise web.HTTPSeeOther("/login")


@routes.post("/lang")
async def language_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    language = str(form.get("language", ""))
    if language in LANGUAGES:
        await choose_language(request, language)
    raise web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))
