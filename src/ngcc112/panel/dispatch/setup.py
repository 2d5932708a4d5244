"""Mounting the 112 center's second half on the panel: the dispatcher's board, ticket and search
pages, the callbacks, the agencies' pages, the reports and the admin pages, their JSON twins
(the ``api`` module of each package), the dispatch translations, the dispatch feed on the panel's
one live hub and the callbacks' lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp_jinja2
from aiohttp import web

from ngcc112.panel import form_memory
from ngcc112.panel.admin import api as admin_api
from ngcc112.panel.admin import views as admin_views
from ngcc112.panel.agency import api as agency_api
from ngcc112.panel.agency import views as agency_views
from ngcc112.panel.center_time import DEFAULT_REPORT_TZ, local_time
from ngcc112.panel.dispatch import api as dispatch_api
from ngcc112.panel.dispatch import callbacks as callbacks_views
from ngcc112.panel.dispatch import search, ticket
from ngcc112.panel.dispatch import views as dispatch_views
from ngcc112.panel.dispatch.live import DispatchFeed
from ngcc112.panel.dispatch.waiting import WaitingBoard
from ngcc112.panel.dispatch_labels import merge_catalogs
from ngcc112.panel.dispatch_state import DISPATCH, DispatchState
from ngcc112.panel.reports import api as reports_api
from ngcc112.panel.reports import views as reports_views
from ngcc112.panel.state import Panel
from ngcc112.tickets.callbacks import (
    Callbacks,
)
from ngcc112.tickets.sla import SlaTargets


async def _run_callbacks(app: web.Application) -> AsyncIterator[None]:
    state = app[DISPATCH]
    state.callbacks.attach(state.panel.services.daemon.link)
    yield
    await state.callbacks.close()


def setup(
    app: web.Application, panel: Panel, *, targets: SlaTargets | None = None, report_tz: str | None = None
) -> DispatchState:
    """Register the dispatch pages, API, live channel and translations on the panel's ``app``.

    The SLA targets and the reports' time zone default to the settings' ``[sla]`` and
    ``timezone`` (as ``ngcc112 report`` uses them).
    """
    services = panel.services
    settings = services.settings
    if targets is None:
        targets = settings.sla
    if report_tz is None:
        report_tz = getattr(settings, "timezone", None) or DEFAULT_REPORT_TZ
    merge_catalogs(panel.catalogs)
    callbacks = Callbacks(services.sessions, services.daemon.link, services.hub.publish)
    feed = DispatchFeed(panel.live, services.sessions, WaitingBoard(), callbacks.observe)
    panel.live.add_feed(feed)
    state = DispatchState(
        panel=panel, live=panel.live, feed=feed, callbacks=callbacks, targets=targets, report_tz=report_tz
    )
    app[DISPATCH] = state
    form_memory.install(app)
    env = aiohttp_jinja2.get_env(app)
    env.globals["center_tz"] = report_tz
    env.filters["local_time"] = local_time
    for module in (dispatch_views, ticket, callbacks_views, search, agency_views, reports_views, admin_views):
        app.add_routes(module.routes)
    for api in (dispatch_api, agency_api, reports_api, admin_api):
        app.add_routes(api.routes)
    app.cleanup_ctx.append(_run_callbacks)
    return state
