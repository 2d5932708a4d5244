"""Login, sessions, roles, CSRF and the language switch."""

from __future__ import annotations

import re

import pytest
from panel_helpers import login

from ngcc112.panel.auth import COOKIE_NAME


async def _csrf(client) -> str:
    return (await (await client.get("/api/session")).json())["csrf_token"]


async def _form_token(client, path: str = "/login") -> str:
    html = await (await client.get(path)).text()
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def test_pages_redirect_to_login_and_api_answers_401(client):
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/login")
    for path in ("/api/me/state", "/api/presence", "/api/tickets", "/api/tickets/1", "/panel/call", "/ws"):
        response = await client.get(path, headers={"Accept": "application/json"})
        assert response.status == 401, path
        assert (await response.json())["code"] == "login"


async def test_login_form_sets_a_strict_httponly_cookie(client):
    token = await _form_token(client)
    response = await client.post("/login", data={"username": "op1", "password": "op1-demo-112",
                                                 "csrf_token": token, "next": "/"},
                                 allow_redirects=False)
    assert response.status == 303
    cookie = next(v for k, v in response.headers.items() if k.lower() == "set-cookie"
                  and v.startswith(COOKIE_NAME))
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    page = await client.get("/")
    assert page.status == 200
    assert "PJSIP/op1" in await page.text()


async def test_login_form_refusals_keep_the_username(client):
    token = await _form_token(client)
    wrong = await client.post("/login", data={"username": "op1", "password": "not-the-password",
                                              "csrf_token": token})
    assert wrong.status == 401
    html = await wrong.text()
    assert 'value="op1"' in html
    assert "Nama pengguna atau kata sandi salah" in html  # Indonesian by default
    empty = await client.post("/login", data={"username": "op2", "password": "", "csrf_token": token})
    assert empty.status == 422
    html = await empty.text()
    assert 'value="op2"' in html and "Isi kata sandi" in html


async def test_login_without_csrf_token_is_refused(client):
    response = await client.post("/login", data={"username": "op1", "password": "op1-demo-112"})
    assert response.status == 403
    assert "Formulir kedaluwarsa" in await response.text()
    response = await client.post("/api/session", json={"username": "op1", "password": "op1-demo-112"})
    assert response.status == 403
    body = await response.json()
    assert body["code"] == "csrf" and body["error"]
    response = await client.post("/api/session", json={"username": "op1", "password": "op1-demo-112"},
                                 headers={"X-CSRF-Token": "forged"})
    assert response.status == 403


async def test_api_login_refusals(client):
    token = await _csrf(client)
    headers = {"X-CSRF-Token": token}
    wrong = await client.post("/api/session", json={"username": "op1", "password": "nope-nope-nope"},
                              headers=headers)
    assert wrong.status == 401
    missing = await client.post("/api/session", json={"username": "op1"}, headers=headers)
    assert missing.status == 422
    body = await missing.json()
    assert set(body["errors"]) == {"password"} and body["values"]["username"] == "op1"
    bad = await client.post("/api/session", data="not json", headers={**headers,
                                                                       "Content-Type": "application/json"})
    assert bad.status == 400


async def test_api_login_state_and_logout(client):
    token = await login(client, "op1")
    session = await (await client.get("/api/session")).json()
    assert session["user"]["username"] == "op1" and session["user"]["interface"] == "PJSIP/op1"
    assert session["csrf_token"] == token
    state = await client.get("/api/me/state")
    assert state.status == 200
    assert (await state.json())["presence"]["presence"] == "logged_out"
    refused = await client.delete("/api/session")
    assert refused.status == 403
    out = await client.delete("/api/session", headers={"X-CSRF-Token": token})
    assert out.status == 204
    assert (await client.get("/api/me/state")).status == 401


async def test_a_new_login_gets_a_new_csrf_token(client):
    before = await _csrf(client)
    after = await login(client, "dispatcher")
    assert before != after


async def test_html_logout_needs_the_token(client):
    await login(client, "dispatcher")
    refused = await client.post("/logout", data={}, allow_redirects=False)
    assert refused.status == 403
    token = await _form_token(client, "/")
    out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303 and out.headers["Location"] == "/login"
    assert (await client.get("/", allow_redirects=False)).status == 303


async def test_language_switch_between_indonesian_and_english(client):
    html = await (await client.get("/login")).text()
    assert '<html lang="id">' in html and "Masuk" in html
    token = await _form_token(client)
    switched = await client.post("/lang", data={"language": "en", "next": "/login", "csrf_token": token},
                                 allow_redirects=False)
    assert switched.status == 303 and switched.headers["Location"] == "/login"
    html = await (await client.get("/login")).text()
    assert '<html lang="en">' in html and "Log in" in html and "Masuk</h1>" not in html
    # the choice survives logging in
    await login(client, "op1")
    assert "My status" in await (await client.get("/")).text()
    token = await _csrf(client)
    bad = await client.post("/api/me/language", json={"language": "fr"}, headers={"X-CSRF-Token": token})
    assert bad.status == 422
    assert (await bad.json())["errors"]["language"] == "Choose a language from the list"
    ok = await client.post("/api/me/language", json={"language": "id"}, headers={"X-CSRF-Token": token})
    assert ok.status == 200
    assert "Status saya" in await (await client.get("/")).text()


async def test_redirect_after_login_stays_on_this_site(client):
    token = await _form_token(client)
    response = await client.post("/login", data={"username": "op1", "password": "op1-demo-112",
                                                 "csrf_token": token, "next": "//evil.example/"},
                                 allow_redirects=False)
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("username, home", [("dispatcher", "/dispatch"), ("agency", "/agency"),
                                             ("admin", "/dispatch")])
async def test_roles_see_their_own_home(client, username, home):
    await login(client, username)
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == home
    assert (await client.get(home)).status == 200
    assert (await client.get("/panel/call")).status == 403
    board = await client.get("/board")
    if username == "agency":  # agencies see their own dispatches, never the room's calls
        assert board.status == 403
    else:
        assert 'data-page="board"' in await board.text()


async def test_security_headers(client):
    response = await client.get("/login")
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"


async def test_password_guessing_is_throttled(client):
    token = await _csrf(client)
    headers = {"X-CSRF-Token": token}
    for _ in range(5):
        wrong = await client.post("/api/session", json={"username": "op1", "password": "guess-guess"},
                                  headers=headers)
        assert wrong.status == 401
    locked = await client.post("/api/session", json={"username": "op1", "password": "op1-demo-112"},
                               headers=headers)
    assert locked.status == 429
    assert (await locked.json())["error"].startswith("Terlalu banyak percobaan gagal")
    html_token = await _form_token(client)
    page = await client.post("/login", data={"username": "op1", "password": "op1-demo-112",
                                             "csrf_token": html_token})
    assert page.status == 429
    assert 'value="op1"' in await page.text()
    # other users are not affected
    assert await login(client, "op2")


def test_throttle_lockout_ends():
    from ngcc112.panel.login_throttle import LoginThrottle

    now = [0.0]
    throttle = LoginThrottle(limit=3, window=10, lockout=30, clock=lambda: now[0])

    def fail(username: str) -> None:
        assert throttle.admit(username, "192.0.2.1") == 0
        throttle.settle(username, "192.0.2.1", False)

    for _ in range(3):
        fail("Op1")
    assert throttle.retry_after("op1", "192.0.2.1") == 30
    now[0] = 31
    assert throttle.retry_after("op1", "192.0.2.1") == 0
    fail("op1")
    now[0] = 50  # outside the window: the old failure does not count
    fail("op1")
    fail("op1")
    assert throttle.retry_after("op1", "192.0.2.1") == 0


async def test_a_mounted_module_can_take_over_a_roles_home(aiohttp_client, services):
    from ngcc112.panel.app import create_app
    from ngcc112.panel.operator.views import HOMES

    app = create_app(services)
    app[HOMES] = {"dispatcher": "/somewhere"}
    client = await aiohttp_client(app)
    await login(client, "dispatcher")
    response = await client.get("/", allow_redirects=False)
    assert response.status == 303 and response.headers["Location"] == "/somewhere"
