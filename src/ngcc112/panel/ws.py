"""The live channel's endpoint: every socket is a client of the panel's one live hub
(:class:`~ngcc112.panel.live.LiveHub`). The server only pushes; the page fetches state on each
(re)connect.

``GET /ws?channel=desk|dispatch`` (the JS: ``static/live.js``) joins one of the hub's channels:

* ``desk`` (the default) — an operator hears of their own desk, staff of the room's board.
* ``dispatch`` — staff hear what changed on the dispatch pages, an agency user only of the tickets
  dispatched to their agency.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ngcc112.panel.api_models import queries
from ngcc112.panel.api_models.read import read_query
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.bodies import BodyRefused
from ngcc112.panel.bodies import refusal as body_refusal
from ngcc112.panel.live import DESK, DISPATCH, Client
from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.panel.state import LANG, PANEL, SESSION_HASH, USER, presence_view
from ngcc112.routing.presence import MemberPresence
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()
HEARTBEAT = 20.0


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser page (tests, tools); the SameSite cookie still applies
    return urlsplit(origin).netloc == request.host


def _nothing(member: MemberPresence) -> dict[str, Any]:
    return {}


def _join(request: web.Request, ws: web.WebSocketResponse, channel: str, agency_id: int | None) -> Client:
    """The hub's client for ``ws`` on ``channel``, as this user (of agency ``agency_id``) hears it."""
    user: User = request[USER]
    live = request.app[PANEL].live
    if channel == DESK:
        translate = request.app[PANEL].catalogs[request[LANG]]

        def describe(member: MemberPresence) -> dict[str, object]:
            return presence_view(member, translate)

        interface = user.interface if user.role == Role.OPERATOR.value else None
        return live.add(ws, user_id=user.id, role=user.role, interface=interface, describe=describe, channel=DESK)
    return live.add(
        ws, user_id=user.id, role=user.role, interface=None, describe=_nothing, channel=DISPATCH, agency_id=agency_id
    )


@routes.get("/ws")
@require()
async def websocket(request: web.Request) -> web.StreamResponse:
    """Open the socket, join the hub, and hold it until the browser (or a disable) ends it."""
    if not _same_origin(request):
        return await error_response(request, 403, "Your role may not do this", code="origin")
    try:
        channel = read_query(request, queries.LiveQuery).channel
    except BodyRefused as refused:
        return await body_refusal(request, refused)
    user: User = request[USER]
    agency_id = None
    if channel == DISPATCH and user.role == Role.AGENCY.value:
        agency_id = await dispatching.actor_agency(request.app[PANEL].services.sessions, user)
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    client = _join(request, ws, channel, agency_id)
    client.offer({"type": "hello", "client": client.id})
    try:
        with request.app[SOCKETS].holding(ws, request[SESSION_HASH]):
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
    finally:
        await request.app[PANEL].live.remove(client)
    return ws


__all__ = ["HEARTBEAT", "routes", "websocket"]
