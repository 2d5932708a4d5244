"""``/dispatch`` (the dispatcher board) and ``/ws/dispatch`` (its live channel's endpoint)."""

from __future__ import annotations

from aiohttp import WSMsgType, web

from ngcc112.panel.auth import require
from ngcc112.panel.dispatch.board import board_data
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.forms import page_refusal
from ngcc112.panel.pages import page_values
from ngcc112.panel.rendering import flash, render
from ngcc112.panel.roles import ADMIN, AGENCY, DISPATCHER, OPERATOR
from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.panel.state import GETTEXT, SESSION_HASH, USER
from ngcc112.panel.ws import HEARTBEAT, _same_origin
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.models import User

routes = web.RouteTableDef()


@routes.get("/dispatch", name="dispatch_board")
@require(DISPATCHER, ADMIN)
async def board_page(request: web.Request) -> web.StreamResponse:
    values = page_values(
        request, board=await board_data(request), flash=await flash(request), **page_refusal(request, "/dispatch")
    )
    return await render(request, "dispatch/board.html", values)


@routes.get("/ws/dispatch")
async def websocket(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get(USER)
    translate = request[GETTEXT]
    if user is None:
        return web.json_response({"error": translate("Please log in"), "code": "login"}, status=401)
    if user.role not in (OPERATOR, DISPATCHER, ADMIN, AGENCY) or not _same_origin(request):
        return web.json_response({"error": translate("Your role may not do this"), "code": "role"}, status=403)
    state = request.app[DISPATCH]
    agency_id = await dispatching.actor_agency(state.panel.services.sessions, user) if user.role == AGENCY else None
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    client = state.live.add(ws, user, agency_id)
    client.offer({"type": "hello", "client": client.id})
    try:
        with request.app[SOCKETS].holding(ws, request[SESSION_HASH]):
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
    finally:
        await state.live.remove(client)
    return ws
