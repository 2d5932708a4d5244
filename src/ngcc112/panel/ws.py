"""The live channel's endpoint: every socket is a client of the panel's one live hub
(:class:`~ngcc112.panel.live.LiveHub`). The server only pushes; the page fetches state on each
(re)connect.

* ``GET /ws`` — the desk channel: an operator hears of their own desk, staff of the room's board.
* ``GET /ws/dispatch`` — the dispatch channel: staff hear what changed on the dispatch pages, an
  agency user only of the tickets dispatched to their agency.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ngcc112.panel.auth import error_response, require
from ngcc112.panel.live import DESK, DISPATCH, Client
from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.panel.state import GETTEXT, LANG, PANEL, SESSION_HASH, USER, presence_view
from ngcc112.routing.presence import MemberPresence
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()
HEARTBEAT = 20.0
#: Who may listen to the dispatch channel.
DISPATCH_ROLES = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value, Role.AGENCY.value)


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser page (tests, tools); the SameSite cookie still applies
    return urlsplit(origin).netloc == request.host


async def _serve(request: web.Request, add: Callable[[web.WebSocketResponse], Client]) -> web.WebSocketResponse:
    """Open the socket, join the hub, and hold it until the browser (or a disable) ends it."""
    live = request.app[PANEL].live
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    client = add(ws)
    client.offer({"type": "hello", "client": client.id})
    try:
        with request.app[SOCKETS].holding(ws, request[SESSION_HASH]):
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
    finally:
        await live.remove(client)
    return ws


@routes.get("/ws")
@require()
async def websocket(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return await error_response(request, 403, "Your role may not do this", code="origin")
    user: User = request[USER]
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    interface = user.interface if user.role == Role.OPERATOR.value else None

    def describe(member: MemberPresence) -> dict[str, object]:
        return presence_view(member, translate)

    return await _serve(
        request,
        lambda ws: panel.live.add(
            ws, user_id=user.id, role=user.role, interface=interface, describe=describe, channel=DESK
        ),
    )


def _nothing(member: MemberPresence) -> dict[str, Any]:
    return {}


@routes.get("/ws/dispatch")
async def dispatch_websocket(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get(USER)
    translate = request[GETTEXT]
    if user is None:
        return web.json_response({"error": translate("Please log in"), "code": "login"}, status=401)
    if user.role not in DISPATCH_ROLES or not _same_origin(request):
        return web.json_response({"error": translate("Your role may not do this"), "code": "role"}, status=403)
    panel = request.app[PANEL]
    sessions = panel.services.sessions
    agency_id = await dispatching.actor_agency(sessions, user) if user.role == Role.AGENCY.value else None
    return await _serve(
        request,
        lambda ws: panel.live.add(
            ws,
            user_id=user.id,
            role=user.role,
            interface=None,
            describe=_nothing,
            channel=DISPATCH,
            agency_id=agency_id,
        ),
    )


__all__ = ["HEARTBEAT", "dispatch_websocket", "routes", "websocket"]
