"""The :class:`~ngcc112.tickets.locations.Locations` the panel uses: the center's one."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.state import PANEL
from ngcc112.tickets.locations import Locations


def locations_of(app: web.Application) -> Locations:
    """The center's one Locations (triage's and the AML intake's, whose changes reach the hub)."""
    return app[PANEL].services.locations
