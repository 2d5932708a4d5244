"""Sessions, login, roles and CSRF.

* The session lives in an encrypted cookie (aiohttp-session), HttpOnly and
  SameSite=Strict. Its key is derived from ``panel.cookie_secret``; when that
  is empty a random key is made per start (everyone logs in again after a restart).
* Every state-changing request (POST, PUT, PATCH, DELETE) must carry the
  session's CSRF token, as the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header; otherwise 403 with a clear message.
* ``request[USER]`` is the logged-in :class:`User` or None.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiohttp import web
from aiohttp_session import get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from ngcc112.panel.state import GETTEXT, LANG, PANEL, USER
from ngcc112.tickets.models import User
from ngcc112.tickets.users import get_user

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE_NAME = "ngcc112_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: A login lasts at most this long (a long shift), then the user logs in again.
SESSION_SECONDS = 14 * 3600
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that are neither pages nor API: no session is loaded for them.
# /aml/: Android ELS and SMS gateways post there without a session and must always get a 2xx.
_NO_SESSION_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics", "/api/openapi.json", "/aml/")

#: The users of live sessions as last read from the database (user id → row): while the
#: database is away, an operator who was logged in keeps the desk and the screen-pop.
KNOWN_USERS = web.AppKey("ngcc112_known_users", dict)


def session_key(cookie_secret: str) -> bytes:
    """32 bytes for the cookie encryption: derived from the secret, or random when it is empty."""
    if not cookie_secret:
        return os.urandom(32)
    return hashlib.sha256(b"ngcc112-panel-session\x00" + cookie_secret.encode()).digest()


def setup(app: web.Application, cookie_secret: str, secure: bool = False) -> None:
    storage = EncryptedCookieStorage(session_key(cookie_secret), cookie_name=COOKIE_NAME,
                                     httponly=True, samesite="Strict", max_age=None,
                                     secure=secure)
    setup_sessions(app, storage)
    app[THROTTLE] = LoginThrottle()
    app[KNOWN_USERS] = {}
    from ngcc112.panel.outage import database_outage_middleware

    app.middlewares.append(database_outage_middleware)
    app.middlewares.append(csrf_middleware)
    app.middlewares.append(user_middleware)


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.path == "/ws" \
        or "application/json" in request.headers.get("Accept", "")


async def csrf_token(request: web.Request) -> str:
    session = await get_session(request)
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def _sent_token(request: web.Request) -> str:
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def error_response(request: web.Request, status: int, message: str, **extra: Any) -> web.Response:
    """A refusal as JSON (API) or as a small HTML page, translated for the request."""
    translate = request.get(GETTEXT) or (lambda text: text)
    text = translate(message)
    if wants_json(request):
        return web.json_response({"error": text, **extra}, status=status)
    from ngcc112.panel.views import render_error

    return await render_error(request, status, text)


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method in UNSAFE_METHODS and not request.path.startswith(_NO_SESSION_PREFIXES):
        session = await get_session(request)
        expected = session.get("csrf")
        sent = await _sent_token(request)
        if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
            await _prepare_language(request)
            return await error_response(
                request, 403,
                "The form expired or was sent from elsewhere. Reload the page and try again.",
                code="csrf")
    return await handler(request)


async def _prepare_language(request: web.Request) -> None:
    from ngcc112.panel.i18n import pick_language

    panel = request.app[PANEL]
    language = pick_language(None, panel.services.settings.panel.language)
    if not request.path.startswith(_NO_SESSION_PREFIXES):
        session = await get_session(request)
        language = pick_language(session.get("lang"), language)
    request[LANG] = language
    request[GETTEXT] = panel.catalogs[language].gettext


@web.middleware
async def user_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[USER] = None
    await _prepare_language(request)
    if not request.path.startswith(_NO_SESSION_PREFIXES):
        session = await get_session(request)
        user_id = session.get("uid")
        if isinstance(user_id, int) and time.time() - float(session.get("since") or 0) > SESSION_SECONDS:
            session.invalidate()  # a shift is over: log in again
            user_id = None
        if isinstance(user_id, int):
            user = await _session_user(request, user_id)
            if user is None or not user.active or session.get("role") != user.role:
                session.invalidate()
            else:
                request[USER] = user
    return await handler(request)


async def _session_user(request: web.Request, user_id: int) -> User | None:
    from ngcc112.panel.outage import is_database_away

    known: dict[int, User] = request.app[KNOWN_USERS]
    try:
        user = await get_user(request.app[PANEL].services.sessions, user_id)
    except Exception as exc:
        if not is_database_away(exc) or user_id not in known:
            raise
        return known[user_id]
    if user is None:
        known.pop(user_id, None)
    else:
        known[user_id] = user
    return user


async def log_in(request: web.Request, user: User) -> str:
    """Start a fresh session for ``user`` (new CSRF token); keep the chosen language."""
    old = await get_session(request)
    language = old.get("lang")
    session = await new_session(request)
    session["uid"] = user.id
    session["role"] = user.role
    session["since"] = time.time()
    if language:
        session["lang"] = language
    token = secrets.token_urlsafe(32)
    session["csrf"] = token
    return token


async def log_out(request: web.Request) -> None:
    session = await get_session(request)
    language = session.get("lang")
    session.invalidate()
    if language:
        fresh = await new_session(request)
        fresh["lang"] = language


class LoginThrottle:
    """Slows password guessing: after ``limit`` failures for one username within ``window``
    seconds, that username is refused for ``lockout`` seconds (the right password too)."""

    def __init__(self, limit: int = 5, window: float = 300.0, lockout: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.lockout, self._clock = limit, window, lockout, clock
        self._failures: dict[str, list[float]] = {}
        self._locked: dict[str, float] = {}

    def retry_after(self, username: str) -> float:
        """Seconds until ``username`` may try again; 0 when it may try now."""
        until = self._locked.get(username.lower(), 0.0)
        return max(0.0, until - self._clock())

    def failed(self, username: str) -> None:
        key, now = username.lower(), self._clock()
        recent = [t for t in self._failures.get(key, []) if now - t < self.window]
        recent.append(now)
        if len(recent) >= self.limit:
            self._locked[key] = now + self.lockout
            recent = []
        self._failures[key] = recent
        if len(self._failures) > 10000:  # bounded memory under a spray of usernames
            self._failures.clear()
            self._locked = {k: v for k, v in self._locked.items() if v > now}

    def succeeded(self, username: str) -> None:
        self._failures.pop(username.lower(), None)


async def check_login(request: web.Request, username: str, password: str) -> tuple[User | None, str]:
    """Authenticate through the throttle: (user, "") or (None, msgid of the refusal)."""
    from ngcc112.tickets.users import authenticate

    throttle = request.app[THROTTLE]
    if throttle.retry_after(username) > 0:
        return None, "Too many failed attempts. Wait a minute and try again."
    user = await authenticate(request.app[PANEL].services.sessions, username, password)
    if user is None:
        throttle.failed(username)
        return None, "Wrong username or password"
    throttle.succeeded(username)
    return user, ""


THROTTLE = web.AppKey("ngcc112_login_throttle", LoginThrottle)


def require(*roles: str) -> Callable[[Handler], Handler]:
    """Only logged-in users (with one of ``roles`` when given); 401/redirect and 403 otherwise."""
    allowed = frozenset(roles)

    def decorate(handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            user: User | None = request.get(USER)
            if user is None:
                if wants_json(request):
                    return await error_response(request, 401, "Please log in", code="login")
                raise web.HTTPSeeOther(f"/login?next={request.path}")
            if allowed and user.role not in allowed:
                return await error_response(request, 403, "Your role may not do this", code="role")
            return await handler(request)

        wrapped.__name__ = handler.__name__
        wrapped.__doc__ = handler.__doc__
        wrapped.roles = allowed  # type: ignore[attr-defined]
        return wrapped

    return decorate


def roles_of(handler: object) -> Iterable[str]:
    return getattr(handler, "roles", frozenset())
