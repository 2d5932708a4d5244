"""Helpers for the location tests: the panel (``create_app`` mounts the location pages; calling
``location.setup`` again is a no-op), the template includes the report asks for wherever a
template does not have them yet (the dispatcher's pages), the CSP change, logging in, tickets, fixes."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone
from typing import Any

import aiohttp_jinja2
import jinja2
from sqlalchemy import select
from panel_fixtures import login as login  # the panel tests' one log-in helper, re-exported

from ngcc112.tickets.models import AuditEntry, Ticket, User

_linkedids = itertools.count(1)

ASSETS = '{% include "location/_assets.html" %}'
#: (template, anchor, replacement): the integration lines of the report, applied when missing.
WIRING: tuple[tuple[str, str, str], ...] = (
    ("_card.html", "  </dl>\n",
     '  </dl>\n  {% include "location/_scores.html" %}\n  {% include "location/_map.html" %}\n'),
    ("operator.html", "panel.js') }}\" defer></script>{% endblock %}",
     "panel.js') }}\" defer></script>" + ASSETS + "{% endblock %}"),
    ("dispatch/ticket.html", "  </dl>\n</section>\n",
     '  </dl>\n  {% include "location/_scores.html" %}\n</section>\n'
     '{% with loc_size = "large" %}{% include "location/_map.html" %}{% endwith %}\n'),
    ("dispatch/ticket.html", "dispatch.js') }}\" defer></script>{% endblock %}",
     "dispatch.js') }}\" defer></script>" + ASSETS + "{% endblock %}"),
    ("dispatch/board.html", '<div class="dboard">\n',
     '<div class="dboard">\n{% include "location/_board_map.html" %}\n'),
    ("dispatch/board.html", "dispatch.js') }}\" defer></script>{% endblock %}",
     "dispatch.js') }}\" defer></script>" + ASSETS + "{% endblock %}"),
)


class WiredLoader(jinja2.BaseLoader):
    """The panel's loader, with the report's include lines added where they are not yet."""

    def __init__(self, inner: jinja2.BaseLoader) -> None:
        self.inner = inner

    def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str | None, Any]:
        source, filename, uptodate = self.inner.get_source(environment, template)
        for name, anchor, replacement in WIRING:
            if name != template:
                continue
            include = next(line.strip() for line in replacement.splitlines() if "location/" in line)
            if include in source:
                continue  # already wired by the lead
            if anchor not in source:
                raise AssertionError(f"{template}: the anchor {anchor!r} for the location include is gone")
            source = source.replace(anchor, replacement, 1)
        return source, filename, uptodate


def make_app(services):
    """The panel with the location pages, and the template includes not yet wired."""
    from ngcc112.panel import location
    from ngcc112.panel.app import create_app
    from ngcc112.panel.state import PANEL

    app = create_app(services)
    location.setup(app, app[PANEL])
    env = aiohttp_jinja2.get_env(app)
    if not isinstance(env.loader, WiredLoader):
        env.loader = WiredLoader(env.loader)
    return app


async def make_ticket(services, state: str = "in_call", *, caller_number: str | None = "081234567890",
                      ghost: float | None = None, prank: float | None = None,
                      reasons: list[dict[str, Any]] | None = None, silent_digit: str | None = None) -> int:
    now = datetime.now(timezone.utc)
    async with services.sessions.begin() as session:
        ticket = Ticket(linkedid=f"1764300000.{next(_linkedids)}", state=state, verdict=None,
                        category=None, arrived_at=now - timedelta(seconds=90), variables={},
                        score_reasons=reasons or [], ghost_score=ghost, prank_score=prank,
                        abandoned=False, withdrawn=False, ended_unobserved=False,
                        caller_number=caller_number, intake={}, silent_digit=silent_digit)
        session.add(ticket)
        await session.flush()
        session.add(AuditEntry(ticket_id=ticket.id, at=now, actor="test", action="test",
                               from_state=None, to_state=state, changes={}))
        return ticket.id


async def user_named(services, username: str) -> User:
    async with services.sessions() as session:
        user = await session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


async def dispatch_to(services, ticket_id: int, agency: str = "damkar") -> None:
    """The dispatcher forwards the (escalated) ticket to ``agency``."""
    from ngcc112.tickets import dispatch as dispatching

    await dispatching.dispatch(services.sessions, services.hub.publish, ticket_id, [agency],
                               "Segera ke lokasi", await user_named(services, "dispatcher"))


def sip_variables(lat: float = -6.2000, lon: float = 106.8166, radius: int = 50) -> dict[str, str]:
    """The dialplan's NGCC_GEO_* variables for a SIP Geolocation circle."""
    shape = f'shape="Circle",crs="2d",pos="{lat} {lon}",radius="{radius}"'
    return {"NGCC_GEO_LOCATION": shape, "NGCC_GEO_EFFECTIVE": shape, "NGCC_GEO_METHOD": "GPS",
            "NGCC_GEO_CONFIDENCE": 'pdf="normal",value="95"'}


def els_body(number: str = "+6281234567890", lat: float = -6.17539, lon: float = 106.82715,
             accuracy: float = 15.0, at: datetime | None = None) -> bytes:
    """An Android ELS (AML over HTTPS) form body."""
    from urllib.parse import urlencode

    ms = int((at or datetime.now(timezone.utc)).timestamp() * 1000)
    return urlencode({"v": "3", "emergency_number": "112", "time": ms, "location_time": ms - 1000,
                      "location_latitude": lat, "location_longitude": lon,
                      "location_accuracy": accuracy, "location_confidence": 68,
                      "location_source": "gps", "device_number": number}).encode()


def locations(client):
    from ngcc112.panel.location.service import locations_of

    return locations_of(client.server.app)


def wire_csp(app, tile_url: str) -> None:
    """The report's CSP change: ``img-src`` also allows the tile server's origin."""
    from ngcc112.panel.location.present import tile_img_src

    async def amend(request, response) -> None:
        policy = response.headers.get("Content-Security-Policy")
        if policy:
            response.headers["Content-Security-Policy"] = policy.replace(
                "img-src 'self' data:", tile_img_src(tile_url))

    app.on_response_prepare.append(amend)
