"""What the health probes and the metrics read: does the database answer (within a bound, the
reason only as a category), the daemon's state as the monitoring's body, and the tickets per state."""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web
from sqlalchemy import func, select, text

from ngcc112.cluster.leadership import Role, RoleView
from ngcc112.panel.state import PANEL, Panel
from ngcc112.tickets.models import Ticket

log = structlog.get_logger(__name__)

#: How long a health probe waits for the database: /healthz and /readyz answer within a second.
PROBE_SECONDS = 0.5


async def database_ok(request: web.Request) -> tuple[bool, str]:
    """Does the database answer ``SELECT 1`` within :data:`PROBE_SECONDS`? The reason when not,
    as a category only (no host, port or driver text: the answer is anonymous)."""

    async def probe() -> None:
        async with request.app[PANEL].services.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    try:
        await asyncio.wait_for(probe(), PROBE_SECONDS)
        return True, ""
    except asyncio.TimeoutError:
        return False, "no answer"
    except Exception as exc:  # any failure means "not reachable" here
        log.warning(
            "panel.database_probe_failed",
            error=type(exc).__name__,
            detail=str(exc).splitlines()[0][:200] if str(exc) else "",
        )
        return False, "refused" if isinstance(exc, (ConnectionError, OSError)) else "error"


def role_view(panel: Panel) -> RoleView:
    """The node's role: its leadership's in cluster mode; a single node leads its only site since it started."""
    services = panel.services
    if services.leadership is not None:
        return services.leadership.view()
    cluster = services.settings.cluster
    return RoleView(Role.LEADER, panel.started_at, cluster.node_name, cluster.site, cluster=False)


def health_body(request: web.Request, db_ok: bool, db_error: str) -> dict[str, object]:
    """The monitoring's body. Ready: a leader logged in to Asterisk with the database answering;
    a standby (cluster mode) with the database answering: it serves the panel, Asterisk is its leader's."""
    panel = request.app[PANEL]
    status = panel.services.daemon.status()
    role = role_view(panel)
    ami_needed = role.role is Role.LEADER
    ready = (bool(status["ami_connected"]) or not ami_needed) and db_ok
    return {
        "status": "ok" if ready else "degraded",
        "role": role.role.value,
        "cluster": {
            "enabled": role.cluster,
            "node": role.node,
            "site": role.site,
            "role": role.role.value,
            "since": role.since.isoformat(),
        },
        "ami": {
            "connected": status["ami_connected"],
            "phase": status["ami_phase"],
            "since": status["ami_since"],
            "last_error": status["ami_last_error"],
        },
        "database": {"reachable": db_ok, "error": db_error, "backlog": status["db_backlog"]},
        "live_calls": status["live_calls"],
        "websocket_clients": panel.live.client_count,
    }


async def ticket_counts(request: web.Request) -> dict[str, int]:
    async with request.app[PANEL].services.sessions() as session:
        rows = (await session.execute(select(Ticket.state, func.count()).group_by(Ticket.state))).all()
    return {state: count for state, count in rows}
