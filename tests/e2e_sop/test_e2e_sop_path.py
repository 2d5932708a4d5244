"""The whole SOP in three browsers: a 112 call → operator escalates → dispatcher dispatches to
Damkar → the agency acknowledges, is on scene, handles and reports → the dispatcher closes.
Each user sees the others' changes live, without reloading."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from ngcc112.sim.calls import CallScript
from browser_stack import log_in

pytestmark = pytest.mark.browser


async def test_sop_from_a_112_call_to_close_ticket_live_in_three_browsers(stack, new_page):
    operator, dispatcher, agency = await new_page(), await new_page(), await new_page()
    await log_in(dispatcher, stack, "dispatcher", "/dispatch")
    await expect(dispatcher.locator("#escalated")).to_contain_text("Tidak ada yang menunggu diteruskan")
    await log_in(agency, stack, "agency", "/agency")
    await expect(agency.locator("#agency-name")).to_contain_text("Damkar")
    await expect(agency.locator("#open-dispatches")).to_contain_text("Tidak ada yang perlu ditangani")

    # the operator takes the call and escalates it
    await log_in(operator, stack, "op1", "/")
    await operator.click("#go-ready")
    await expect(operator.locator("#presence-state")).to_have_attribute("data-state", "ready")
    await expect(dispatcher.locator("#operators li[data-interface='PJSIP/op1'] .presence")).to_have_text("Siap")
    stack.sim.set_softphone("op1", answers=True, ring_seconds=2.0)
    call = await stack.sim.place_call(CallScript(number="081234567890", name="Budi", hangup_after=None))
    await expect(operator.locator("#active .caller-number")).to_have_text("081234567890")
    await operator.check("#verdict-normal")
    await operator.fill("#caller_name", "Budi Santoso")
    await operator.fill("#address", "Jl. Asia Afrika 8, Bandung")
    await operator.select_option("#category", "fire")
    await operator.fill("#description", "Asap tebal dari lantai dua, penghuni masih di dalam")
    await operator.click("#intake-submit")
    await expect(operator.locator("#flash")).to_have_text("Tiket diserahkan ke dispatcher")
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert ticket.state == "escalated"

    # the dispatcher's board shows it without a reload, and the dispatcher forwards it to Damkar
    row = dispatcher.locator(f"#escalated-{ticket.id}")
    await expect(row).to_contain_text("Jl. Asia Afrika 8, Bandung")
    await row.locator("a").click()
    await expect(dispatcher.locator("#ticket-state")).to_have_attribute("data-state", "escalated")
    await expect(dispatcher.locator("body")).to_have_attribute("data-live", "up")
    await dispatcher.check("#agency-damkar")
    await dispatcher.fill("#instructions", "Kebakaran rumah dua lantai, penghuni terjebak")
    await dispatcher.click("#dispatch-submit")
    await expect(dispatcher.locator("#flash")).to_have_text("Diteruskan ke OPD/Instansi")
    await expect(dispatcher.locator("#dispatch-damkar")).to_have_attribute("data-status", "sent")
    await expect(dispatcher.locator("body")).to_have_attribute("data-live", "up")
    # a second tab of the dispatcher's keeps the board open: the incident and Damkar's status on it
    board = await dispatcher.context.new_page()
    await board.goto(f"{stack.url}/dispatch")
    await expect(board.locator("body")).to_have_attribute("data-live", "up")
    damkar_on_board = board.locator(f"#incident-{ticket.id} .dispatch-status[data-agency='damkar']")
    await expect(damkar_on_board).to_have_attribute("data-status", "sent")

    # the agency's page shows it live; the agency acknowledges, goes on scene, handles and reports
    dispatch_row = agency.locator("#open-dispatches tr[data-status='sent']")
    await expect(dispatch_row).to_contain_text("Jl. Asia Afrika 8, Bandung")
    await dispatch_row.locator("a").click()
    await expect(agency.locator("#instructions-text")).to_have_text("Kebakaran rumah dua lantai, penghuni terjebak")
    await expect(agency.locator("body")).to_have_attribute("data-live", "up")
    await agency.click("#acknowledge")
    await expect(agency.locator("#dispatch-status")).to_have_attribute("data-status", "acknowledged")
    await expect(dispatcher.locator("#dispatch-damkar")).to_have_attribute("data-status", "acknowledged")
    await expect(damkar_on_board).to_have_attribute("data-status", "acknowledged")

    await agency.select_option("#status", "on_scene")
    await agency.click("#status-submit")
    await expect(agency.locator("#dispatch-status")).to_have_attribute("data-status", "on_scene")
    await expect(dispatcher.locator("#dispatch-damkar")).to_have_attribute("data-status", "on_scene")
    await expect(dispatcher.locator("#ticket-state")).to_have_attribute("data-state", "on_scene")
    await expect(board.locator(f"#incident-{ticket.id}")).to_have_attribute("data-state", "on_scene")

    await agency.select_option("#status", "handled")
    await agency.click("#status-submit")
    await expect(dispatcher.locator("#dispatch-damkar")).to_have_attribute("data-status", "handled")
    await agency.fill("#report", "Api dipadamkan pukul 10.40, dua penghuni dievakuasi tanpa luka")
    await agency.click("#report-submit")
    await expect(agency.locator("#report-text")).to_have_text(
        "Api dipadamkan pukul 10.40, dua penghuni dievakuasi tanpa luka")
    await expect(dispatcher.locator("#ticket-state")).to_have_attribute("data-state", "reported")
    await expect(dispatcher.locator("#dispatch-damkar .report")).to_contain_text("dua penghuni dievakuasi")
    await expect(board.locator(f"#incident-{ticket.id}")).to_have_attribute("data-state", "reported")

    # every agency reported: Close Ticket without an override reason
    await expect(dispatcher.locator("#close-form")).to_contain_text("Semua instansi sudah melapor.")
    await dispatcher.click("#close-submit")
    await expect(dispatcher.locator("#ticket-state")).to_have_attribute("data-state", "closed")
    await expect(agency.locator("#ticket-closed")).to_be_visible()
    await expect(board.locator(f"#incident-{ticket.id}")).to_have_count(0)

    closed = await stack.services.store.get(ticket.id)
    assert closed.state == "closed" and closed.closed_at is not None
    trail = [(a.actor, a.action, a.from_state, a.to_state) for a in await stack.services.store.audit(ticket.id)
             if a.actor in ("op1", "dispatcher", "agency")]
    assert trail == [
        ("op1", "classify", "in_call", "classified"),
        ("op1", "escalate", "classified", "escalated"),
        ("dispatcher", "dispatch", "escalated", "dispatched"),
        ("agency", "acknowledge", "dispatched", "dispatched"),
        ("agency", "dispatch_status", "dispatched", "on_scene"),
        ("agency", "dispatch_status", "on_scene", "on_scene"),
        ("agency", "field_report", "on_scene", "reported"),
        ("dispatcher", "close", "reported", "closed"),
    ]
    # the audit trail on the dispatcher's page, live
    await expect(dispatcher.locator("#audit tr[data-action='close'] .actor")).to_have_text("dispatcher (Dispatcher)")
