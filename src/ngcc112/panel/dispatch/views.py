"""``/dispatch``: the dispatcher board (its live channel is :mod:`ngcc112.panel.ws`)."""

from __future__ import annotations

from aiohttp import web

from ngcc112.panel.auth import require
from ngcc112.panel.dispatch.board import board_data
from ngcc112.panel.forms import page_refusal
from ngcc112.panel.pages import page_values
from ngcc112.panel.rendering import flash, render
from ngcc112.panel.roles import ADMIN, DISPATCHER

routes = web.RouteTableDef()


@routes.get("/dispatch", name="dispatch_board")
@require(DISPATCHER, ADMIN)
async def board_page(request: web.Request) -> web.StreamResponse:
    values = page_values(
        request, board=await board_data(request), flash=await flash(request), **page_refusal(request, "/dispatch")
    )
    return await render(request, "dispatch/board.html", values)
