"""``GET /ws``: the live channel. The server only pushes; the page fetches state on each (re)connect."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from ngcc112.panel.auth import error_response, require
from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.panel.state import LANG, PANEL, SESSION_HASH, USER, presence_view
from ngcc112.routing.presence import MemberPresence
from ngcc112.tickets.models import User
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()
HEARTBEAT = 20.0


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if not origin:
        return True  # not a browser page (tests, tools); the SameSite cookie still applies
    return urlsplit(origin).netloc == request.host


@routes.get("/ws")
@require()
async def websocket(request: web.Request) -> web.StreamResponse:
    if not _same_origin(request):
        return await error_response(request, 403, "Your role may not do this", code="origin")
    user: User = request[USER]
    panel = request.app[PANEL]
    translate = panel.catalogs[request[LANG]]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    interface = user.interface if user.role == Role.OPERATOR.value else None

    def describe(member: MemberPresence) -> dict[str, object]:
        return presence_view(member, translate)

    client = panel.live.add(ws, user_id=user.id, role=user.role, interface=interface, describe=describe)
    client.offer({"type": "hello", "client": client.id})
    try:
        with request.app[SOCKETS].holding(ws, request[SESSION_HASH]):
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
    finally:
        await panel.live.remove(client)
    return ws
