"""Rendering the panel's pages: what every template sees, a page, an error page, the one-time
flash notice, and a same-site ``next`` target."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from ngcc112.panel import labels
from ngcc112.panel.csrf import csrf_token
from ngcc112.panel.i18n import LANGUAGE_NAMES, LANGUAGES
from ngcc112.panel.operator.intake_form import intake_values
from ngcc112.panel.state import GETTEXT, LANG, USER
from ngcc112.tickets.models import User


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


async def render(request: web.Request, template: str, values: dict[str, Any], status: int = 200) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, {**await context(request), **values}, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


async def render_error(request: web.Request, status: int, message: str) -> web.Response:
    return await render(request, "error.html", {"status": status, "message": message}, status=status)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect to another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


async def flash(request: web.Request, message: str | None = None) -> str | None:
    session = await get_session(request)
    if message is not None:
        session["flash"] = message
        return None
    found = session.pop("flash", None)
    return found if isinstance(found, str) else None
