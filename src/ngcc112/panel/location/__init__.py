"""Where the caller is, and why the system doubts the call: the panel's side of issue 6.

:func:`setup` mounts the position page and its forms (:mod:`.views`) and the JSON API
(:mod:`.api`) on the panel, with the location labels and the map's template globals.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ngcc112.panel import form_memory, location_openapi, openapi
from ngcc112.panel.location import api, views
from ngcc112.panel.location.labels import merge_catalogs
from ngcc112.panel.location.present import reasons_for, tile_config, unit_of
from ngcc112.panel.state import Panel

#: Set once the location pages are mounted on an app (setup is idempotent).
MOUNTED = web.AppKey("ngcc112_location_mounted", bool)


def setup(app: web.Application, panel: Panel) -> None:
    """Mount the location pages, API and labels on the panel ``app``. Idempotent."""
    if app.get(MOUNTED):
        return
    app[MOUNTED] = True
    services = panel.services
    merge_catalogs(panel.catalogs)
    env = aiohttp_jinja2.get_env(app)
    env.globals["location_tiles"] = tile_config(services.settings.panel.tile_url)
    env.globals["location_reasons"] = reasons_for
    env.globals["location_unit"] = unit_of
    form_memory.install(app)
    app.add_routes(views.routes)
    app.add_routes(api.routes)
    openapi.register(
        app, lambda: {"paths": location_openapi.PATHS, "components": {"schemas": location_openapi.SCHEMAS}}
    )


__all__ = ["setup"]
