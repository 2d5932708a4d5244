"""Sessions, login, roles and CSRF.

* The session cookie (aiohttp-session, encrypted with a key derived from
  ``panel.cookie_secret``, HttpOnly, SameSite=Strict) carries a random session
  id, the CSRF token and the language. The id counts only while its row in
  ``panel_sessions`` (:mod:`ngcc112.tickets.panel_sessions`) is neither ended nor
  older than 14 h and its user is active: one primary-key lookup per request, so
  logout, a password change, an admin's disable or role change end a session on
  its very next request, copied cookies included.
* While the database is away, a session that counted at its last lookup keeps
  working (:class:`SessionCache`): the operator keeps the desk and the screen-pop
  (fail safe for the desk, the same as before server-side sessions). What the
  outage hides: a session ended by another process meanwhile (``ngcc112 user
  passwd``) stops when the database is back. A logout on this panel during the
  outage takes effect at once; it is written at the next login.
* Logins are throttled per (username, client address) with backoff and per client
  address (:class:`LoginThrottle`), so guessing from one place cannot lock out an
  operator at another desk; argon2 runs on worker threads with a bounded queue
  (:data:`~ngcc112.tickets.passwords.PASSWORD_WORK`), so a flood of logins never stalls
  the calls' event loop. Refusals are 429 with ``Retry-After``.
* Every state-changing request (POST, PUT, PATCH, DELETE) must carry the
  session's CSRF token, as the ``csrf_token`` form field or the
  ``X-CSRF-Token`` header; otherwise 403 with a clear message.
* ``request.get(USER)`` is the logged-in :class:`User`, or None (the key is unset without a login).
* Never logged: passwords, the cookie, the session id (at most its hash's first
  12 characters).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog
from aiohttp import web
from aiohttp_session import Session, get_session, new_session
from aiohttp_session import setup as setup_sessions
from aiohttp_session.cookie_storage import EncryptedCookieStorage

from ngcc112.addresses import client_address
from ngcc112.panel.i18n import LANGUAGES, pick_language
from ngcc112.panel.login_throttle import LoginThrottle
from ngcc112.panel.outage import is_database_away
from ngcc112.panel.rendering import render_error
from ngcc112.panel.session_cache import KNOWN_SESSIONS, SessionCache
from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.panel.state import GETTEXT, LANG, PANEL, SESSION_HASH, USER
from ngcc112.tickets.models import User, utcnow
from ngcc112.tickets.panel_sessions import SESSION_LIFETIME, end_session, live_session, open_session, session_hash
from ngcc112.tickets.passwords import PASSWORD_WORK, PasswordWork, PasswordWorkBusy
from ngcc112.tickets.users import USERNAME_PATTERN, authenticate, remember_language

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
COOKIE_NAME = "ngcc112_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
#: A login lasts at most this long (a long shift), then the user logs in again.
SESSION_SECONDS = int(SESSION_LIFETIME.total_seconds())
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that are neither pages nor API: no session is loaded for them.
# /aml/: Android ELS and SMS gateways post there without a session; they prove themselves to aml_http.
_NO_SESSION_PREFIXES = ("/static/", "/healthz", "/readyz", "/metrics", "/api/openapi.json", "/aml/")

#: Refusals of a login (the form's and the API's msgids; both start "Too many": 429).
THROTTLED = "Too many failed attempts. Wait a few minutes and try again."
BUSY = "Too many logins at once. Try again in a few seconds."
WRONG = "Wrong username or password"
#: Seconds a login refused as busy is told to wait.
BUSY_RETRY_SECONDS = 5
#: Purge ended sessions at a login at most this often (seconds).
PURGE_EVERY = 3600.0

#: The seconds a refused request should wait; sent as ``Retry-After``.
RETRY_AFTER = web.RequestKey("ngcc112_retry_after", int)


def session_key(cookie_secret: str) -> bytes:
    """32 bytes for the cookie encryption: derived from the secret, or random when it is empty."""
    if not cookie_secret:
        return os.urandom(32)
    return hashlib.sha256(b"ngcc112-panel-session\x00" + cookie_secret.encode()).digest()


def setup(app: web.Application, cookie_secret: str, secure: bool = False) -> None:
    storage = EncryptedCookieStorage(
        session_key(cookie_secret),
        cookie_name=COOKIE_NAME,
        httponly=True,
        samesite="Strict",
        max_age=None,
        secure=secure,
    )
    setup_sessions(app, storage)
    app[THROTTLE] = LoginThrottle()
    app[PASSWORDS] = PASSWORD_WORK
    app[KNOWN_SESSIONS] = SessionCache()
    app.on_response_prepare.append(_retry_after_header)
    app.middlewares.append(csrf_middleware)
    app.middlewares.append(user_middleware)


def wants_json(request: web.Request) -> bool:
    return (
        request.path.startswith("/api/")
        or request.path == "/ws"
        or "application/json" in request.headers.get("Accept", "")
    )


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
                request, 403, "The form expired or was sent from elsewhere. Reload the page and try again.", code="csrf"
            )
    return await handler(request)


async def _prepare_language(request: web.Request) -> None:
    panel = request.app[PANEL]
    language = pick_language(None, panel.services.settings.panel.language)
    if not request.path.startswith(_NO_SESSION_PREFIXES):
        session = await get_session(request)
        language = pick_language(session.get("lang"), language)
    request[LANG] = language
    request[GETTEXT] = panel.catalogs[language].gettext


@web.middleware
async def user_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    await _prepare_language(request)
    if not request.path.startswith(_NO_SESSION_PREFIXES):
        session = await get_session(request)
        session_id = session.get("sid")
        if isinstance(session_id, str) and session_id:
            hashed = session_hash(session_id)
            user = await _session_user(request, hashed)
            if user is None:
                _forget_login(session)  # ended, expired or disabled: log in again
            else:
                request[USER] = user
                request[SESSION_HASH] = hashed
                _use_language(request, user.language)
        elif "uid" in session:
            _forget_login(session)  # a cookie from before server-side sessions
    return await handler(request)


def _use_language(request: web.Request, language: str | None) -> None:
    """The logged-in person's own language, when they chose one, wins over the browser's."""
    if language in LANGUAGES:
        request[LANG] = language
        request[GETTEXT] = request.app[PANEL].catalogs[language].gettext


async def choose_language(request: web.Request, language: str) -> None:
    """Remember ``language`` for this browser and, when someone is logged in, for that person
    (it follows them to any desk). A database that is away keeps it for this browser only."""

    session = await get_session(request)
    session["lang"] = language
    user: User | None = request.get(USER)
    if user is None:
        return
    try:
        await remember_language(request.app[PANEL].services.sessions, user.id, language)
    except Exception as exc:
        if not is_database_away(exc):
            raise
        log.warning("panel.language_not_remembered", user=user.username, error=type(exc).__name__)
    user.language = language
    _use_language(request, language)


def _forget_login(session: Session) -> None:
    """Drop the login from the cookie; keep the chosen language."""
    language = session.get("lang")
    session.invalidate()
    if language:
        session["lang"] = language


async def _session_user(request: web.Request, hashed: str) -> User | None:

    known = request.app[KNOWN_SESSIONS]
    if known.ended(hashed):
        return None
    now = utcnow()
    try:
        live = await live_session(request.app[PANEL].services.sessions, hashed, now=now)
    except Exception as exc:
        user = known.user(hashed, now) if is_database_away(exc) else None
        if user is None:
            raise
        return user
    if live is None:
        known.forget(hashed)
        return None
    known.remember(hashed, live.user, live.expires_at)
    return live.user


def request_address(request: web.Request) -> str:
    """The client's address as the throttle and the session record see it (proxies resolved)."""
    return client_address(request, request.app[PANEL].services.settings.panel.trusted_proxies)


async def log_in(request: web.Request, user: User) -> str:
    """Start a fresh session for ``user`` (new id, new CSRF token); keep the chosen language.

    A session this browser still had ends now (with any logouts the database missed while
    it was away); at most once an hour the sessions ended a week ago are purged.
    """
    known = request.app[KNOWN_SESSIONS]
    old = await get_session(request)
    language = old.get("lang")
    ending = known.ends_to_write()
    previous = old.get("sid")
    if isinstance(previous, str) and previous:
        ending.append(session_hash(previous))
        known.forget(ending[-1])
    address = request_address(request)
    now = utcnow()
    purge = time.monotonic() - known.last_purge >= PURGE_EVERY
    session_id = await open_session(
        request.app[PANEL].services.sessions, user.id, address, now=now, end_first=ending, purge=purge
    )
    known.written(ending)
    if purge:
        known.last_purge = time.monotonic()
    hashed = session_hash(session_id)
    session = await new_session(request)
    session["sid"] = session_id
    language = user.language or language  # the person's own choice follows them to this desk
    if language:
        session["lang"] = language
    token = secrets.token_urlsafe(32)
    session["csrf"] = token
    request[USER] = user
    log.info("panel.logged_in", user=user.username, address=address, session=hashed[:12])
    return token


async def log_out(request: web.Request) -> None:
    """End this browser's session: in the database at once (or, while it is away, here at
    once and in the database at the next login). Keep the chosen language."""

    session = await get_session(request)
    language = session.get("lang")
    session_id = session.get("sid")
    session.invalidate()
    if language:
        fresh = await new_session(request)
        fresh["lang"] = language
    if not isinstance(session_id, str) or not session_id:
        return
    known = request.app[KNOWN_SESSIONS]
    hashed = session_hash(session_id)
    known.forget(hashed)
    sockets = request.app.get(SOCKETS)
    if sockets is not None:
        await sockets.close_session(hashed)  # its live channels too, database or not
    try:
        await end_session(request.app[PANEL].services.sessions, hashed, "logout")
    except Exception as exc:
        if not is_database_away(exc):
            raise
        known.end_later(hashed, utcnow())
        log.warning("panel.logout_written_later", session=hashed[:12])


async def check_login(request: web.Request, username: str, password: str) -> tuple[User | None, str]:
    """Authenticate through the throttle and the password workers: (user, "") or (None, the
    msgid of the refusal). A refusal to wait sets ``request[RETRY_AFTER]`` (``Retry-After``)."""

    throttle = request.app[THROTTLE]
    address = request_address(request)
    wait = throttle.admit(username, address)
    if wait > 0:
        request[RETRY_AFTER] = max(1, math.ceil(wait))
        log.debug("panel.login_throttled", user=_loggable(username), address=address, retry_after=request[RETRY_AFTER])
        return None, THROTTLED
    outcome: bool | None = None
    try:
        user = await authenticate(request.app[PANEL].services.sessions, username, password, work=request.app[PASSWORDS])
        outcome = user is not None
    except PasswordWorkBusy:
        request[RETRY_AFTER] = BUSY_RETRY_SECONDS
        log.warning("panel.login_busy", address=address, checks=request.app[PASSWORDS].in_flight)
        return None, BUSY
    finally:
        locked = throttle.settle(username, address, outcome)
    if user is None:
        if locked:
            log.warning("panel.login_locked", user=_loggable(username), address=address, seconds=locked)
        else:
            log.info("panel.login_failed", user=_loggable(username), address=address)
        return None, WRONG
    return user, ""


def _loggable(username: str) -> str:
    """What a log line may say of an attempted username: only something shaped like one
    (no control characters, bounded), never whatever was typed into the field."""
    return username if USERNAME_PATTERN.fullmatch(username) else "(not a username)"


async def _retry_after_header(request: web.Request, response: web.StreamResponse) -> None:
    seconds = request.get(RETRY_AFTER)
    if seconds and response.status in (429, 503):
        response.headers.setdefault("Retry-After", str(seconds))


THROTTLE = web.AppKey("ngcc112_login_throttle", LoginThrottle)
#: Where the panel's argon2 work runs (tests give an app a smaller one).
PASSWORDS = web.AppKey("ngcc112_password_work", PasswordWork)


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
