"""Server-side panel sessions: ending one takes effect on its very next request (issue 11.6).

A copied cookie is replayed after logout, after a password change and after an admin's
disable or role change: each time the panel answers 401 (API) or sends to /login (pages).
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import re
import sys
from datetime import timedelta
from unittest.mock import patch

import pytest
from aiohttp import WSCloseCode, WSMsgType
from aiohttp.test_utils import TestClient
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from ngcc112.panel.session_sockets import SOCKETS
from ngcc112.tickets.agencies import seed_agencies
from ngcc112.tickets.dispatch_models import AdminLogEntry
from ngcc112.tickets.models import PanelSession, User, utcnow
from ngcc112.tickets.panel_sessions import (KEEP_ENDED, SESSION_LIFETIME, live_session, open_session,
                                            open_sessions, purge_sessions, session_hash)
from ngcc112.tickets.users import UserError, authenticate, change_password


@pytest.fixture
def panel_database_url(seeded_database_url):
    """The panel's database on SQLite and on PostgreSQL."""
    return seeded_database_url


@pytest.fixture
def browser(other_client):
    """Another browser on the same panel (its own cookie jar); ``browser(copy_of=c)`` copies c's cookie."""

    async def make(copy_of: TestClient | None = None) -> TestClient:
        other = await other_client()
        if copy_of is not None:
            other.session.cookie_jar.update_cookies(copy_of.session.cookie_jar.filter_cookies(
                copy_of.make_url("/")))
        return other

    return make


async def login(client, username: str, password: str | None = None, address: str | None = None) -> str:
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    headers = {"X-CSRF-Token": token, **({"X-Forwarded-For": address} if address else {})}
    response = await client.post("/api/session", json={"username": username,
                                                       "password": password or f"{username}-demo-112"},
                                 headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["csrf_token"]


async def logged_in_as(client) -> str | None:
    user = (await (await client.get("/api/session")).json())["user"]
    return None if user is None else user["username"]


async def assert_logged_out(client) -> None:
    assert (await client.get("/api/me/state")).status == 401
    page = await client.get("/", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/login")
    assert await logged_in_as(client) is None


async def test_a_copied_cookie_stops_working_at_logout(client, browser, services):
    token = await login(client, "op1", address="198.51.100.4")
    thief = await browser(copy_of=client)
    assert await logged_in_as(thief) == "op1"
    [row] = await open_sessions(services.sessions, await _user_id(services, "op1"))
    assert row.address == "198.51.100.4" and re.fullmatch(r"[0-9a-f]{64}", row.id)
    assert row.expires_at - row.created_at == SESSION_LIFETIME
    out = await client.delete("/api/session", headers={"X-CSRF-Token": token})
    assert out.status == 204
    await assert_logged_out(thief)
    await assert_logged_out(client)
    async with services.sessions() as session:
        ended = await session.get(PanelSession, row.id)
    assert ended.revoked_at is not None and ended.revoked_reason == "logout"


async def test_the_html_logout_ends_the_session_too(client, browser):
    await login(client, "dispatcher")
    thief = await browser(copy_of=client)
    html = await (await client.get("/board")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    out = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)
    assert out.status == 303
    await assert_logged_out(thief)


async def test_a_password_change_ends_every_session_but_starts_a_fresh_one_here(client, browser, services):
    token = await login(client, "op1")
    copied = await browser(copy_of=client)
    elsewhere = await browser()
    await login(elsewhere, "op1")
    headers = {"X-CSRF-Token": token}
    wrong = await client.post("/api/me/password", json={"current_password": "not-it-at-all",
                                                        "new_password": "a-new-long-password"}, headers=headers)
    assert wrong.status == 422
    assert (await wrong.json())["errors"] == {"current_password": "Kata sandi saat ini salah"}
    short = await client.post("/api/me/password", json={"current_password": "op1-demo-112",
                                                        "new_password": "short"}, headers=headers)
    assert short.status == 422 and set((await short.json())["errors"]) == {"new_password"}
    changed = await client.post("/api/me/password", json={"current_password": "op1-demo-112",
                                                          "new_password": "a-new-long-password"}, headers=headers)
    assert changed.status == 200, await changed.text()
    new_token = (await changed.json())["csrf_token"]
    assert new_token != token
    # here: a fresh session with a fresh CSRF token; everywhere else: logged out at once
    assert await logged_in_as(client) == "op1"
    assert (await client.get("/api/me/state")).status == 200
    await assert_logged_out(copied)
    await assert_logged_out(elsewhere)
    assert await authenticate(services.sessions, "op1", "op1-demo-112") is None
    assert await authenticate(services.sessions, "op1", "a-new-long-password") is not None
    async with services.sessions() as session:
        entry = (await session.scalars(select(AdminLogEntry).where(
            AdminLogEntry.action == "password_changed"))).one()
    # this browser's (and its copy's) and the other browser's
    assert entry.actor == "op1" and entry.changes == {"username": "op1", "sessions_ended": 2}
    assert "a-new-long-password" not in repr(entry.changes)


async def test_the_change_password_page(client, browser):
    await login(client, "agency")
    copied = await browser(copy_of=client)
    page = await client.get("/")
    assert 'action="/account/password"' in await page.text()  # the header's button
    form = await client.get("/account/password")
    assert form.status == 200
    html = await form.text()
    assert "Ganti kata sandi" in html and 'autocomplete="current-password"' in html
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    async def submit(current: str, new: str, again: str):
        return await client.post("/account/password", data={"csrf_token": token, "current_password": current,
                                                            "new_password": new, "new_password_again": again})

    differ = await submit("agency-demo-112", "a-new-long-password", "a-new-long-passwort")
    assert differ.status == 422 and "Kedua kata sandi baru tidak sama" in await differ.text()
    wrong = await submit("nope-nope-nope", "a-new-long-password", "a-new-long-password")
    assert wrong.status == 422 and "Kata sandi saat ini salah" in await wrong.text()
    done = await submit("agency-demo-112", "a-new-long-password", "a-new-long-password")
    html = await done.text()
    assert done.status == 200 and 'id="password-changed"' in html
    assert "a-new-long-password" not in html
    await assert_logged_out(copied)
    assert await logged_in_as(client) == "agency"
    # not logged in: to the login page
    await assert_logged_out(copied)
    refused = await copied.get("/account/password", allow_redirects=False)
    assert refused.status == 303 and refused.headers["Location"].startswith("/login")


async def test_an_admin_disable_or_role_change_ends_the_users_sessions(client, browser, services):
    admin_token = await login(client, "admin")
    operator = await browser()
    await login(operator, "op2")
    dispatcher = await browser()
    await login(dispatcher, "dispatcher")
    op2, dispatcher_id = await _user_id(services, "op2"), await _user_id(services, "dispatcher")
    off = await client.post(f"/api/admin/users/{op2}", json={"active": False},
                            headers={"X-CSRF-Token": admin_token})
    assert off.status == 200, await off.text()
    await assert_logged_out(operator)
    await seed_agencies(services.sessions)  # an agency user needs an agency to join
    moved = await client.post(f"/api/admin/users/{dispatcher_id}", json={"role": "agency", "agency": "damkar"},
                              headers={"X-CSRF-Token": admin_token})
    assert moved.status == 200, await moved.text()
    await assert_logged_out(dispatcher)
    assert await logged_in_as(client) == "admin"
    async with services.sessions() as session:
        reasons = set((await session.scalars(select(PanelSession.revoked_reason)
                                             .where(PanelSession.revoked_at.is_not(None)))).all())
        logged = {e.action: e.changes for e in (await session.scalars(select(AdminLogEntry))).all()}
    assert reasons == {"disabled", "role"}
    assert logged["deactivated"]["sessions_ended"] == 1 and logged["role_changed"]["sessions_ended"] == 1


async def test_an_expired_session_is_refused(client, services):
    await login(client, "op1")
    async with services.sessions.begin() as session:
        await session.execute(update(PanelSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    await assert_logged_out(client)


async def test_the_command_line_password_change_ends_the_sessions(client, browser, services, seeded_database_url):
    await login(client, "op3")
    env = {"NGCC112_DATABASE_URL": seeded_database_url, "PATH": "/usr/bin:/bin"}

    async def passwd(username: str, password: str) -> tuple[int, str, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ngcc112.cli", "user", "passwd", username, "--password-stdin", env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(process.communicate(password.encode() + b"\n"), 60)
        return process.returncode, out.decode(), err.decode()

    code, out, _ = await passwd("op3", "from-the-shell-1")
    assert code == 0 and "1 panel session(s) ended" in out
    await assert_logged_out(client)
    assert await authenticate(services.sessions, "op3", "from-the-shell-1") is not None
    code, _, err = await passwd("nobody", "from-the-shell-1")
    assert code == 2 and "nobody" in err and "Traceback" not in err
    code, _, err = await passwd("op3", "short")
    assert code == 2 and "password" in err and "Traceback" not in err


async def test_change_password_checks_and_audits(services):
    with pytest.raises(UserError) as refused:
        await change_password(services.sessions, "op1", "short", actor="cli:root")
    assert refused.value.field == "password"
    with pytest.raises(UserError, match="no user"):
        await change_password(services.sessions, "ghost", "long-enough-1", actor="cli:root")
    assert await change_password(services.sessions, "op1", "long-enough-1", actor="cli:root") == 0
    async with services.sessions() as session:
        entry = (await session.scalars(select(AdminLogEntry))).one()
    assert (entry.actor, entry.action, entry.subject) == ("cli:root", "password_changed", "user")


async def test_only_the_hash_of_the_session_id_is_stored_and_old_rows_are_purged(services):
    user_id = await _user_id(services, "op1")
    now = utcnow()
    session_id = await open_session(services.sessions, user_id, "192.0.2.1", now=now)
    assert len(session_id) >= 43
    async with services.sessions() as session:
        ids = set((await session.scalars(select(PanelSession.id))).all())
    assert ids == {session_hash(session_id)} and session_id not in ids
    live = await live_session(services.sessions, session_hash(session_id), now=now)
    assert live is not None and live.user.username == "op1"
    # ended more than a week ago: purged at a later login; a recent logout is kept
    long_ago = now - KEEP_ENDED - timedelta(hours=1)
    old = await open_session(services.sessions, user_id, "192.0.2.2", now=long_ago - SESSION_LIFETIME)
    recent = await open_session(services.sessions, user_id, "192.0.2.3", now=now)
    async with services.sessions.begin() as session:
        await session.execute(update(PanelSession).where(PanelSession.id == session_hash(recent))
                              .values(revoked_at=now, revoked_reason="logout"))
    await open_session(services.sessions, user_id, "192.0.2.4", now=now, purge=True)
    async with services.sessions() as session:
        ids = set((await session.scalars(select(PanelSession.id))).all())
    assert session_hash(old) not in ids and session_hash(recent) in ids and len(ids) == 3
    async with services.sessions.begin() as session:
        assert await purge_sessions(session, now + KEEP_ENDED + SESSION_LIFETIME + timedelta(hours=1)) == 3


async def test_a_logout_while_the_database_is_away_still_ends_the_session(client, browser, services,
                                                                          monkeypatch):
    token = await login(client, "op1")
    thief = await browser(copy_of=client)
    assert await logged_in_as(thief) == "op1"  # read from the database: known for an outage
    real = services.sessions

    class Refusing:
        """Every new database session fails the way a refused PostgreSQL connection does."""

        def __call__(self, *args, **kwargs):
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))

        begin = __call__

    monkeypatch.setattr(services, "sessions", Refusing())
    assert await logged_in_as(thief) == "op1"  # the desk keeps working while the database is away
    out = await client.delete("/api/session", headers={"X-CSRF-Token": token})
    assert out.status == 204
    assert await logged_in_as(thief) is None  # ended here at once
    monkeypatch.setattr(services, "sessions", real)
    assert await logged_in_as(thief) is None
    other = await browser()
    await login(other, "dispatcher")  # the next login writes the ending
    async with real() as session:
        reasons = (await session.scalars(select(PanelSession.revoked_reason)
                                         .where(PanelSession.user_id == await _user_id(services, "op1")))).all()
    assert reasons == ["logout"]


async def _user_id(services, username: str) -> int:
    async with services.sessions() as session:
        return await session.scalar(select(User.id).where(User.username == username))


# -- the live channels of an ended session close too ---------------------------------------------


async def _closed(ws) -> int:
    """The close code the server sent (a hang fails the test after a generous bound)."""
    message = await asyncio.wait_for(ws.receive(), 30)
    while message.type not in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING):
        message = await asyncio.wait_for(ws.receive(), 30)
    return message.data if message.type == WSMsgType.CLOSE else ws.close_code


async def test_a_logout_closes_the_live_channels_of_the_copied_cookie_too(client, browser):
    token = await login(client, "op1")
    thief = await browser(copy_of=client)
    mine = await client.ws_connect("/ws")
    copied = await thief.ws_connect("/ws?channel=dispatch")
    assert (await mine.receive_json(timeout=30))["type"] == "hello"
    assert (await copied.receive_json(timeout=30))["type"] == "hello"
    assert (await client.delete("/api/session", headers={"X-CSRF-Token": token})).status == 204
    assert await _closed(copied) == WSCloseCode.POLICY_VIOLATION
    assert await _closed(mine) == WSCloseCode.POLICY_VIOLATION
    refused = await thief.get("/ws")
    assert refused.status == 401  # its reconnect meets the login


async def test_a_disabled_operators_live_channel_closes_at_once(client, browser, services):
    admin_token = await login(client, "admin")
    operator = await browser()
    await login(operator, "op2")
    ws = await operator.ws_connect("/ws")
    assert (await ws.receive_json(timeout=30))["type"] == "hello"
    off = await client.post(f"/api/admin/users/{await _user_id(services, 'op2')}", json={"active": False},
                            headers={"X-CSRF-Token": admin_token})
    assert off.status == 200, await off.text()
    assert await _closed(ws) == WSCloseCode.POLICY_VIOLATION


async def test_sessions_ended_elsewhere_close_at_the_next_recheck_and_an_outage_closes_nothing(
        client, browser, services):
    await login(client, "op1")
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json(timeout=30))["type"] == "hello"
    sockets = client.server.app[SOCKETS]
    assert len(sockets) == 1 and await sockets.recheck() == 0
    with patch.object(sockets, "_still_open", side_effect=OperationalError("SELECT", {}, Exception("gone"))):
        assert await sockets.recheck() == 0  # the database is away: the desk keeps its live channel
    assert not ws.closed
    # `ngcc112 user passwd op1` in another process: the database says the session ended
    await change_password(services.sessions, "op1", "a-long-password", actor="cli")
    assert await sockets.recheck() == 1
    assert await _closed(ws) == WSCloseCode.POLICY_VIOLATION and len(sockets) == 0
