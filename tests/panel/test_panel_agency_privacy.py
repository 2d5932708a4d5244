"""Agency users see only their own dispatches: never the room, the presence board or the call stream."""

from __future__ import annotations

import asyncio

from panel_helpers import login
from test_panel_screenpop import arrive, emit, ringing


async def test_agency_users_are_refused_the_room_pages_and_presence(client):
    await login(client, "agency")
    for path in ("/board", "/panel/board", "/api/presence", "/api/tickets"):
        response = await client.get(path, headers={"Accept": "application/json"})
        assert response.status == 403, path


async def test_agency_websocket_gets_no_call_or_board_messages(client, other_client, services):
    await login(client, "agency")
    dispatcher = await other_client()
    await login(dispatcher, "dispatcher")
    await arrive(services, "1700000000.9")
    async with client.ws_connect("/ws") as agency_ws, dispatcher.ws_connect("/ws") as dispatcher_ws:
        assert (await agency_ws.receive_json())["type"] == "hello"
        assert (await dispatcher_ws.receive_json())["type"] == "hello"
        await emit(services, ringing("1700000000.9"))
        seen_by_dispatcher = await asyncio.wait_for(dispatcher_ws.receive_json(), 5)
        assert seen_by_dispatcher["type"] in ("board", "call", "calls")
        try:
            leaked = await asyncio.wait_for(agency_ws.receive_json(), 0.3)
        except asyncio.TimeoutError:
            leaked = None
        assert leaked is None


async def test_the_session_cookie_is_secure_when_configured(aiohttp_client, services):
    from ngcc112.panel.app import create_app

    services.settings = services.settings.model_copy(
        update={"panel": services.settings.panel.model_copy(update={"cookie_secure": True})})
    secure_client = await aiohttp_client(create_app(services))
    response = await secure_client.get("/api/session")
    cookie = response.headers.get("Set-Cookie", "")
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
