"""The panel while the database is away: a clear 503 that says calls are still recorded; the desk stays."""

from __future__ import annotations

from panel_helpers import login
from sqlalchemy.exc import OperationalError

from ngcc112.panel.outage import MESSAGE


def database_gone(services, monkeypatch) -> None:
    """Every new database session fails the way a refused PostgreSQL connection does."""
    def refuse(*args, **kwargs):
        raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(services, "sessions", refuse)


async def test_the_api_says_the_database_is_away_and_calls_are_still_recorded(client, services, monkeypatch):
    await login(client, "op1")
    database_gone(services, monkeypatch)
    response = await client.get("/api/tickets")
    assert response.status == 503
    assert response.headers["Retry-After"] == "5"
    body = await response.json()
    assert body["code"] == "database_unavailable"
    assert "calls" in body["error"].lower() or "panggilan" in body["error"].lower()


async def test_a_page_says_so_too_instead_of_a_bare_500(client, services, monkeypatch):
    await login(client, "op1")
    database_gone(services, monkeypatch)
    response = await client.get("/api/tickets", headers={"Accept": "text/html"})
    assert response.status == 503
    response = await client.get("/callbacks")
    assert response.status == 503
    text = await response.text()
    assert "<html" in text.lower() and "Traceback" not in text


async def test_the_screen_pop_still_comes_while_the_database_is_away(client, services, monkeypatch):
    from datetime import datetime, timezone

    from test_panel_screenpop import _next, ringing

    from ngcc112.ami.events import CallArrived

    await login(client, "op1")
    assert (await client.get("/api/me/state")).status == 200  # the user is known from this read
    database_gone(services, monkeypatch)
    async with client.ws_connect("/ws") as ws:
        await _next(ws, "hello")
        # what the daemon publishes live; the ticket cannot be written now
        services.hub.publish(CallArrived(call_id="away.1", at=datetime.now(timezone.utc), channel="PJSIP/c-1",
                                         uniqueid="away.1", caller_number="5550199", caller_name="Budi",
                                         exten="112"))
        services.hub.publish(ringing("away.1"))
        assert (await _next(ws, "call"))["ringing"] == "away.1"
    state = await client.get("/api/me/state")
    assert state.status == 200
    ringing_call = (await state.json())["desk"]["ringing"]
    assert ringing_call["call_id"] == "away.1" and ringing_call["caller_number"] == "5550199"
    assert ringing_call["ticket"] is None
    body = await (await client.get("/api/session")).json()
    assert body["user"]["username"] == "op1"


def test_the_message_names_the_outage_and_the_promise() -> None:
    assert "Database unavailable" in MESSAGE and "recorded" in MESSAGE
