"""The operator's day in a real browser: log in, go Ready, a 112 call pops, intake, escalate/close."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Page, expect

from ngcc112.panel.state import PANEL
from ngcc112.sim.calls import CallScript

pytestmark = pytest.mark.browser


async def log_in_and_go_ready(page: Page, stack, username: str = "op1") -> None:
    await page.goto(f"{stack.url}/login")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo-112")
    await page.click("button[type=submit].primary")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "logged_out")
    await expect(page.locator("body")).to_have_attribute("data-live", "up")
    await page.click("#go-ready")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "ready")
    await expect(page.locator("#presence-state")).to_have_text("Siap")
    added = stack.actions("QueueAdd")
    assert [(a.get("Interface"), a.get("StateInterface"), a.get("MemberName")) for a in added] == \
        [("PJSIP/op1", "PJSIP/op1", username)]


async def test_normal_call_is_popped_taken_and_escalated(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=10.0)
    call = await stack.sim.place_call(CallScript(number="081234567890", name="Budi", hangup_after=None))

    ringing = page.locator("#ringing .caller-number")
    await expect(ringing).to_have_text("081234567890")
    await expect(page.locator("#ringing")).to_contain_text("Panggilan masuk")
    await expect(page).to_have_title(re.compile("081234567890"))

    await expect(page.locator("#active .caller-number")).to_have_text("081234567890")
    await expect(page.locator("#ringing .caller-number")).to_have_count(0)
    await expect(page.locator("#intake")).to_be_visible()
    await expect(page.locator("#callback_number")).to_have_value("081234567890")
    await expect(page.locator("#stopwatch")).to_have_text(re.compile(r"^00:0[1-9]$"))  # it ticks

    await page.check("#verdict-normal")
    await page.fill("#caller_name", "Budi Santoso")
    await page.fill("#address", "Jl. Asia Afrika 8, Bandung")
    await page.select_option("#category", "fire")
    await page.fill("#description", "Asap tebal dari lantai dua, penghuni masih di dalam")
    await page.press("#address", "Enter")  # Enter saves a draft; it never submits the verdict
    await expect(page.locator("#flash")).to_have_text("Tersimpan")
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert ticket.state == "in_call" and ticket.intake["address"] == "Jl. Asia Afrika 8, Bandung"
    await expect(page.locator("#verdict-normal")).to_be_checked()  # the draft kept the choice
    await page.click("#intake-submit")

    await expect(page.locator("#flash")).to_have_text("Tiket diserahkan ke dispatcher")
    await expect(page.locator("#intake")).to_have_count(0)
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert (ticket.state, ticket.verdict, ticket.category) == ("escalated", "normal", "fire")
    assert ticket.intake["address"] == "Jl. Asia Afrika 8, Bandung"
    audit = [(a.actor, a.action) for a in await stack.services.store.audit(ticket.id) if a.actor == "op1"]
    assert audit == [("op1", "intake_saved"), ("op1", "classify"), ("op1", "escalate")]


async def test_silent_ghost_call_is_closed_with_a_note(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=5.0)
    call = await stack.sim.place_call(CallScript(number="085700001111", name="", dtmf="5",
                                                 dtmf_at=0.5, hangup_after=None))

    await expect(page.locator("#active .caller-number")).to_have_text("085700001111")
    await expect(page.locator("#active .silent-banner")).to_have_text(
        "Penelepon mungkin tidak bisa berbicara — menekan tombol 5")

    # submitting without a note keeps what was typed and says what is missing
    await page.check("#verdict-ghost")
    await expect(page.locator("#note")).to_have_value("Panggilan kosong: tidak ada suara di saluran")
    await page.fill("#note", "")  # the operator clears the preset closing note
    await page.fill("#caller_name", "tidak diketahui")
    await page.click("#intake-submit")
    await expect(page.locator("#note-error")).to_have_text("Tulis catatan penutupan singkat")
    await expect(page.locator("#caller_name")).to_have_value("tidak diketahui")
    await expect(page.locator("#verdict-ghost")).to_be_checked()
    assert (await stack.services.store.by_linkedid(call.linkedid)).state == "in_call"

    await page.fill("#note", "Tidak ada suara, hanya menekan 5; tidak menjawab saat ditanya")
    await page.click("#intake-submit")
    await expect(page.locator("#flash")).to_have_text("Tiket ditutup")
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert (ticket.state, ticket.verdict, ticket.silent_digit) == ("closed", "ghost", "5")


async def test_page_reload_while_ringing_catches_up(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=140.0)
    await stack.sim.place_call(CallScript(number="081399998888", name="Rina", hangup_after=None))
    await expect(page.locator("#ringing .caller-number")).to_have_text("081399998888")
    await page.reload()
    await expect(page.locator("#ringing .caller-number")).to_have_text("081399998888")
    await page.click("#go-break")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "break")
    pauses = stack.actions("QueuePause")
    assert pauses[-1].get("Paused") == "true" and pauses[-1].get("Reason") == "rest"


async def test_the_page_reconnects_by_itself_and_catches_up(page: Page, stack):
    await log_in_and_go_ready(page, stack)
    panel = stack.services.panel_app[PANEL]
    snapshot = await panel.control.snapshot()  # QueueStatus at the simulator agrees
    assert [(m.interface, m.paused) for m in snapshot.members] == [("PJSIP/op1", False)]
    await panel.live.close_clients()  # as when the server drops a client that is too slow
    await expect(page.locator("body")).to_have_attribute("data-live", "up")
    stack.sim.set_softphone("op1", answers=True, ring_seconds=5.0)
    await stack.sim.place_call(CallScript(number="082211112222", name="Dewi", hangup_after=None))
    await expect(page.locator("#active .caller-number")).to_have_text("082211112222")



async def test_a_change_made_in_another_browser_shows_here(page: Page, browser, stack):
    await log_in_and_go_ready(page, stack)
    other = await browser.new_context()
    second = await other.new_page()
    await second.goto(f"{stack.url}/login")
    await second.fill("#username", "op1")
    await second.fill("#password", "op1-demo-112")
    await second.click("button[type=submit].primary")
    await second.select_option("#break-reason", "meal")
    await second.click("#go-break")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "break")
    await expect(page.locator("#presence-reason")).to_have_text("Makan")
    await other.close()
