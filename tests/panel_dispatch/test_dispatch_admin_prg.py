"""The admin pages answer every form with 303 to the page (post/redirect/get): a refused form comes back
once, with an error summary at the top and the typed values (never the password); disabling an account
from the page ends its sessions and its live channel."""

from __future__ import annotations

import asyncio
import re

from aiohttp import WSMsgType
from dispatch_helpers import login


async def token_of(client, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', await (await client.get(path)).text()).group(1)


async def users(client) -> dict[str, dict]:
    return {u["username"]: u for u in (await (await client.get("/api/admin/users")).json())["users"]}


async def test_a_refused_new_user_is_a_303_then_the_page_with_the_summary_and_the_values(client):
    await login(client, "admin")
    token = await token_of(client, "/admin/users")
    response = await client.post("/admin/users", allow_redirects=False, data={
        "csrf_token": token, "username": "rina", "display_name": "Rina S", "role": "agency",
        "password": "secret-password-1", "interface": "", "agency": ""})
    assert response.status == 303 and response.headers["Location"] == "/admin/users"
    html = await (await client.get("/admin/users")).text()
    summary = html[html.index('id="error-summary"'):html.index("</div>", html.index('id="error-summary"'))]
    assert 'role="alert" tabindex="-1"' in html
    assert '<a href="#new-agency">Pengguna instansi harus memiliki instansi</a>' in summary
    assert 'value="rina"' in html and 'value="Rina S"' in html and '<option value="agency" selected>' in html
    assert "secret-password-1" not in html, "a password is never kept"
    # shown once: reloading gives the clean page (and Enter in the address bar is a GET)
    again = await (await client.get("/admin/users")).text()
    assert 'id="error-summary"' not in again and 'value="Rina S"' not in again


async def test_refused_password_reset_and_agency_forms_redirect(client):
    await login(client, "admin")
    token = await token_of(client, "/admin/users")
    op3 = (await users(client))["op3"]["id"]
    response = await client.post(f"/admin/users/{op3}/password", allow_redirects=False,
                                 data={"csrf_token": token, "password": "short"})
    assert response.status == 303 and response.headers["Location"] == "/admin/users"
    html = await (await client.get("/admin/users")).text()
    assert f'<a href="#password-form-{op3}">Minimal 8 karakter</a>' in html
    response = await client.post("/admin/agencies/damkar", allow_redirects=False,
                                 data={"csrf_token": token, "name": "", "kind": "OPD", "active": "on"})
    assert response.status == 303 and response.headers["Location"] == "/admin/agencies"
    html = await (await client.get("/admin/agencies")).text()
    assert 'id="error-summary"' in html and "Isi nama" in html


async def test_disabling_from_the_page_ends_the_users_sessions_and_live_channel(client, other_client):
    await login(client, "admin")
    token = await token_of(client, "/admin/users")
    dispatcher = await other_client()
    await login(dispatcher, "dispatcher")
    account = (await users(client))["dispatcher"]
    async with dispatcher.ws_connect("/ws?channel=dispatch") as ws:
        assert (await ws.receive_json())["type"] == "hello"
        response = await client.post(f"/admin/users/{account['id']}", allow_redirects=False, data={
            "csrf_token": token, "role": "dispatcher", "interface": account["interface"] or "", "agency": ""})
        assert response.status == 303 and response.headers["Location"] == "/admin/users"
        closed = await asyncio.wait_for(ws.receive(), 5)
        assert closed.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
    assert (await users(client))["dispatcher"]["active"] is False
    page = await dispatcher.get("/dispatch", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login")
    html = await (await client.get("/admin/users")).text()
    row = html[html.index('data-username="dispatcher"'):]
    assert "Nonaktif" in row[:row.index("</tr>")]
