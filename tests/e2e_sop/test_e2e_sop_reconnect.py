"""The dispatch pages catch up after their websocket drops: what changed meanwhile is shown."""

from __future__ import annotations

import asyncio

from datetime import datetime, timezone

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.models import AuditEntry, Ticket, User
from browser_stack import log_in

pytestmark = pytest.mark.browser


async def _escalated_ticket(services) -> int:
    now = datetime.now(timezone.utc)
    async with services.sessions.begin() as session:
        ticket = Ticket(linkedid="reconnect.1", state="escalated", verdict="normal", category="medical",
                        arrived_at=now, variables={}, score_reasons=[], abandoned=False, withdrawn=False,
                        ended_unobserved=False, caller_number="081355554444",
                        intake={"address": "Jl. Braga 10, Bandung", "description": "Pingsan"})
        session.add(ticket)
        await session.flush()
        session.add(AuditEntry(ticket_id=ticket.id, at=now, actor="op1", action="escalate",
                               from_state="classified", to_state="escalated", changes={}))
        return ticket.id


async def test_board_and_agency_page_catch_up_after_the_socket_drops(stack, new_page):
    dispatcher, agency = await new_page(), await new_page()
    await log_in(dispatcher, stack, "dispatcher", "/dispatch")
    await log_in(agency, stack, "agency", "/agency")
    live = stack.services.panel_app[DISPATCH].live
    sockets = live.client_count  # the board, its map and the agency page
    assert sockets >= 2

    await live.close_clients()  # as at a server restart: every dispatch socket goes
    ticket_id = await _escalated_ticket(stack.services)
    async with stack.services.sessions() as session:
        user = await session.scalar(select(User).where(User.username == "dispatcher"))
    [view] = await dispatching.dispatch(stack.services.sessions, stack.services.hub.publish, ticket_id,
                                        ["damkar"], "Pasien tidak sadar", user)

    await expect(dispatcher.locator(f"#incident-{ticket_id} .dispatch-status[data-agency='damkar']")) \
        .to_have_attribute("data-status", "sent")
    await expect(agency.locator(f"#agency-dispatch-{view.id}")).to_contain_text("Jl. Braga 10, Bandung")
    await expect(dispatcher.locator("body")).to_have_attribute("data-live", "up")
    await expect(agency.locator("body")).to_have_attribute("data-live", "up")
    for _ in range(100):  # every page opened its sockets again
        if live.client_count == sockets:
            break
        await asyncio.sleep(0.05)
    assert live.client_count == sockets
