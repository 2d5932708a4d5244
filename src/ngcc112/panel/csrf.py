"""The session's CSRF token: made once per session, sent back by every form and unsafe request
(:func:`ngcc112.panel.auth.csrf_middleware` checks it)."""

from __future__ import annotations

import secrets

from aiohttp import web
from aiohttp_session import get_session


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token
