"""The operator panel's aiohttp app factory.

``create_app(services)`` builds the app; its ``cleanup_ctx`` starts, in order,
the live hub consumer (presence and call boards, websockets) and stops it in
reverse. The panel never talks AMI itself: presence goes through
:mod:`ngcc112.routing.presence`, tickets through :mod:`ngcc112.tickets.intake`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ngcc112.panel import (
    account,
    api,
    auth,
    bodies,
    dispatch_openapi,
    location,
    metrics,
    openapi,
    outage_guard,
    refusals,
    session_sockets,
    session_views,
    ws,
)
from ngcc112.panel.dispatch import setup as dispatch_setup
from ngcc112.panel.i18n import load_catalogs
from ngcc112.panel.ticket_waits import TicketWaits
from ngcc112.panel.live import LiveHub
from ngcc112.panel.location.present import tile_img_src
from ngcc112.panel.operator import views as operator_views
from ngcc112.panel.operator.calls import CallBoard
from ngcc112.panel.state import PANEL, Panel
from ngcc112.routing.presence import PresenceBoard, PresenceControl
from ngcc112.tickets.panel_sessions import still_open

if TYPE_CHECKING:
    from ngcc112.services import Services

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
}


#: The Content-Security-Policy with the configured tile server's origin allowed for images.
CSP = web.AppKey("ngcc112_csp", str)


def printable(value: object) -> object:
    """What a page shows of a value: text that can be sent as UTF-8.

    The input boundary refuses lone surrogates; a row stored before it existed (or
    written by another tool) must still not turn every page that shows it into a 500.
    """
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    return value


async def _security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for key, value in SECURITY_HEADERS.items():
        if key == "Content-Security-Policy":
            value = request.app.get(CSP, value)
        response.headers.setdefault(key, value)
    if not request.path.startswith("/static/"):
        # callers' numbers and locations: never kept in a browser or proxy cache
        response.headers.setdefault("Cache-Control", "no-store")


async def _live(app: web.Application) -> AsyncIterator[None]:
    panel = app[PANEL]
    await panel.live.start()
    await panel.ticket_waits.start()
    yield
    await panel.ticket_waits.stop()
    await panel.live.stop()


async def _close_websockets(app: web.Application) -> None:
    await app[PANEL].live.close_clients()


def _mount_dispatch(app: web.Application, panel: Panel) -> None:
    """The SOP's second half (dispatcher board, agencies, reports, admin) on the same app."""
    dispatch_setup.setup(app, panel)
    openapi.register(
        app, lambda: {"paths": dispatch_openapi.PATHS, "components": {"schemas": dispatch_openapi.SCHEMAS}}
    )
    app[operator_views.HOMES] = {"dispatcher": "/dispatch", "agency": "/agency", "admin": "/dispatch"}


def _mount_location(app: web.Application, panel: Panel) -> None:
    """The caller's position beside the screen-pop: fixes, scores, the map (and their API)."""
    location.setup(app, panel)


def create_app(services: Services) -> web.Application:
    """The panel for ``services`` (see :class:`ngcc112.services.Services`)."""
    queue = services.settings.calls.queue
    presence = PresenceBoard(queue)
    calls = CallBoard()
    control = PresenceControl(services.daemon.link, queue)
    panel = Panel(
        services=services,
        presence=presence,
        control=control,
        calls=calls,
        live=LiveHub(services.hub, presence, calls, refresh=control.snapshot),
        catalogs=load_catalogs(),
        started_at=datetime.now(timezone.utc),
        wrapup=services.wrapup,
        ticket_waits=TicketWaits(services.hub),
    )
    app = web.Application(client_max_size=256 * 1024)
    app[PANEL] = panel
    app[CSP] = SECURITY_HEADERS["Content-Security-Policy"].replace(
        "img-src 'self' data:", tile_img_src(services.settings.panel.tile_url)
    )
    app.middlewares.append(outage_guard.database_outage_middleware)  # outermost: a 503, never a bare 500
    auth.setup(
        app, services.settings.panel.cookie_secret.get_secret_value(), secure=services.settings.panel.cookie_secure
    )
    app.middlewares.append(refusals.refusal_middleware)  # after the user and language are known
    bodies.setup(app)  # the input boundary (bodies, forms, path ids), in front of the CSRF check
    session_sockets.setup(app, lambda hashes: still_open(services.sessions, hashes))
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        finalize=printable,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    metrics.setup(app)
    app.add_routes(session_views.routes)
    app.add_routes(operator_views.routes)
    app.add_routes(api.routes)
    app.add_routes(openapi.routes)
    app.add_routes(metrics.routes)
    app.add_routes(ws.routes)
    account.setup(app)
    _mount_dispatch(app, panel)
    _mount_location(app, panel)
    app.router.add_static("/static/", STATIC, name="static", append_version=True)
    app.on_response_prepare.append(_security_headers)
    app.cleanup_ctx.append(_live)
    app.on_shutdown.append(_close_websockets)
    return app
