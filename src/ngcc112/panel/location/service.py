"""The :class:`~ngcc112.tickets.locations.Locations` the panel uses: the daemon's (whose changes
reach the hub), or the panel's own when it runs without one."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.state import PANEL
from ngcc112.tickets.locations import (
    Locations,
)

FALLBACK = web.AppKey("ngcc112_location_fallback", Locations)


def locations_of(app: web.Application) -> Locations:
    """The daemon's Locations (the triage's, whose changes reach the hub); ours without it."""
    triage = app[PANEL].services.extras.get("triage")
    found = getattr(triage, "locations", None)
    return found if isinstance(found, Locations) else app[FALLBACK]
