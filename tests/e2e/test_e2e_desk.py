"""The operator's desk in a real browser: no text is lost when a new call comes, the fast path
(keystrokes counted at 1280×720) and the error summary that takes the focus."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from browser_stack import Stack, log_in_and_go_ready, new_page, running_stack
from playwright.async_api import Page, expect

from ngcc112.sim.calls import CallScript

pytestmark = pytest.mark.browser

#: The shipped dialplan answers, plays its prompt (~4 s), then queues: a caller who hangs up
#: this many seconds after the answer has talked to the operator for a few seconds.
HANGUP_AFTER = 9.0


@pytest.fixture
async def quick_stack(tmp_path, seeded_database) -> AsyncIterator[Stack]:
    """The stack with a short after-call limit, so a second call can ring in a test's time."""
    async with running_stack(tmp_path / "t.db", wrapup_seconds=4.0, seeded=seeded_database) as running:
        yield running


class Keys:
    """Every key the operator presses, counted: text as one key per character."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.count = 0
        self.typed = 0

    async def press(self, key: str) -> None:
        await self.page.keyboard.press(key)
        self.count += 1

    async def type(self, text: str) -> None:
        await self.page.keyboard.type(text)
        self.count += len(text)
        self.typed += len(text)


async def answered_call(page: Page, stack: Stack, number: str, **script) -> object:
    call = await stack.sim.place_call(CallScript(number=number, name="", **script))
    await expect(page.locator("#active .caller-number")).to_have_text(number)
    await expect(page.locator("#intake")).to_be_visible()
    return call


async def test_a_new_call_never_takes_the_text_being_typed(browser, quick_stack):
    stack = quick_stack
    context, page = await new_page(browser, 1280, 720)
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=1.0)
    first = await answered_call(page, stack, "081111111111", hangup_after=HANGUP_AFTER)
    first_id = await page.locator("#active").get_attribute("data-ticket-id")
    await page.click("#description")
    await page.keyboard.type("Gudang terbakar di Jl. Sudirman")

    # the call ends: after-call work, Asterisk pauses the operator with the wrap-up reason
    await expect(page.locator("#presence-state")).to_have_attribute("data-wrap-up", "true")
    await expect(page.locator("#presence-state")).to_have_text("Pasca-panggilan (ACW)")
    assert stack.actions("QueuePause")[-1].get("Reason") == "wrap-up"

    # a second caller waits; when the limit passes the operator is resumed and it rings
    await stack.sim.place_call(CallScript(number="082222222222", name="", hangup_after=None))
    await expect(page.locator("#callbar #ringing .caller-number")).to_have_text("082222222222")
    # a wait, not a one-off read: on a busy machine the bar may still be re-rendering
    await expect(page.locator("#callbar")).to_have_css("position", "fixed")
    box = await page.locator("#callbar #ringing .popup").bounding_box()
    assert box is not None and 0 <= box["y"] < 720  # in sight, wherever the page was scrolled
    await expect(page.locator("body")).to_have_attribute("data-beeps", re.compile(r"^[1-9]"))
    await page.keyboard.type(", dua lantai")  # typing on: it still goes to the first call's form

    # answered: the first call's form stays, the new call waits in the bar with a switch
    await expect(page.locator("#live-call #switch-call")).to_be_visible()
    await expect(page.locator("#active")).to_have_attribute("data-ticket-id", first_id)
    await expect(page.locator("#description")).to_have_value("Gudang terbakar di Jl. Sudirman, dua lantai")
    await expect(page.locator("#description")).to_be_focused()

    # the operator switches deliberately (one key); the first call waits in "my pending intakes"
    await page.keyboard.press("Alt+W")
    await expect(page.locator("#active .caller-number")).to_have_text("082222222222")
    pending = page.locator(f"#pending a[data-pending='{first_id}']")
    await expect(pending).to_be_visible()
    await expect(page.locator("#pending")).to_contain_text("draf tersimpan")

    # a reload restores it; opening it from the list brings back every character typed
    await page.reload()
    await pending.click()
    await expect(page.locator("#active")).to_have_attribute("data-ticket-id", first_id)
    await expect(page.locator("#description")).to_have_value("Gudang terbakar di Jl. Sudirman, dua lantai")
    ticket = await stack.services.store.by_linkedid(first.linkedid)
    assert ticket.state == "in_call"
    await context.close()


@pytest.mark.parametrize("verdict,key,flash", [("ghost", "Alt+G", "Tiket ditutup"),
                                               ("prank", "Alt+P", "Tiket ditutup"),
                                               ("information", "Alt+I", "Tiket ditutup")])
async def test_ghost_prank_and_information_close_in_a_few_keys(browser, stack, verdict, key, flash):
    context, page = await new_page(browser, 1280, 720)
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=0.5)
    call = await answered_call(page, stack, "085700001111", hangup_after=None)
    # the call type is the first thing on the desk, above the fold, with its keys on screen
    fieldset = await page.locator("#intake fieldset.verdict").bounding_box()
    assert fieldset is not None and fieldset["y"] + fieldset["height"] <= 720
    await expect(page.locator("#intake fieldset.verdict")).to_contain_text(key)
    await expect(page.locator("#intake-submit")).to_contain_text("Alt+S")
    await expect(page.locator("#stopwatch")).to_be_in_viewport()

    keys = Keys(page)
    await keys.press(key)
    await expect(page.locator(f"#verdict-{verdict}")).to_be_checked()
    await expect(page.locator("#note")).not_to_have_value("")  # the preset closing note
    await keys.press("Alt+S")
    await expect(page.locator("#flash")).to_have_text(flash)
    assert keys.count <= 5
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert (ticket.state, ticket.verdict) == ("closed", verdict) and ticket.note
    await context.close()


async def test_a_normal_call_costs_the_text_typed_plus_six_keys(browser, stack):
    context, page = await new_page(browser, 1280, 720)
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=0.5)
    call = await answered_call(page, stack, "081234567890", hangup_after=None)
    await expect(page.locator("#stopwatch")).to_be_in_viewport()
    await expect(page.locator("details.map-details")).not_to_have_attribute("open", "")
    await expect(page.locator("details.coordinates")).not_to_have_attribute("open", "")

    keys = Keys(page)
    await keys.press("Alt+N")
    await keys.type("Budi Santoso")
    await keys.press("Tab")
    await keys.type("081298765432")
    await keys.press("Tab")
    await keys.type("Jl. Asia Afrika 8, Bandung")
    await keys.press("Tab")
    await keys.type("K")  # the category by its first letter: Kebakaran
    await keys.press("Tab")
    await keys.type("Asap tebal dari lantai dua")
    await keys.press("Alt+S")

    await expect(page.locator("#flash")).to_have_text("Tiket diserahkan ke dispatcher")
    assert keys.count <= keys.typed + 6
    ticket = await stack.services.store.by_linkedid(call.linkedid)
    assert (ticket.state, ticket.verdict, ticket.category) == ("escalated", "normal", "fire")
    assert ticket.intake["caller_name"] == "Budi Santoso"
    assert ticket.intake["callback_number"] == "081298765432"
    assert ticket.intake["address"] == "Jl. Asia Afrika 8, Bandung"
    assert ticket.intake["description"] == "Asap tebal dari lantai dua"

    # the caller is still on the line: the card stays and the operator adds what they hear
    await expect(page.locator("#followup .caller-number").first).to_have_text("081234567890")
    await page.fill("#call_note", "Penghuni sudah keluar semua")
    await page.click("#call-note-add")
    await expect(page.locator("#flash")).to_have_text("Catatan ditambahkan ke tiket")
    audit = [(a.action, a.changes) for a in await stack.services.store.audit(ticket.id)]
    assert audit[-1] == ("call_note", {"note": "Penghuni sudah keluar semua"})
    await context.close()


async def test_a_refused_submit_lands_on_an_error_summary_with_the_focus(browser, stack):
    context, page = await new_page(browser, 1280, 720)
    await log_in_and_go_ready(page, stack)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=0.5)
    await answered_call(page, stack, "081234567890", hangup_after=None)
    await page.keyboard.press("Alt+N")
    await page.keyboard.type("Budi")
    await page.keyboard.press("Alt+S")
    summary = page.locator("#error-summary")
    await expect(summary).to_be_focused()
    assert page.url.rstrip("/") == stack.url  # post/redirect/get: no page is left on a POST URL
    await expect(summary.locator("a[href='#description']")).to_be_visible()
    await expect(page.locator("#caller_name")).to_have_value("Budi")
    await summary.locator("a[href='#description']").click()
    await expect(page.locator("#description")).to_be_focused()
    await context.close()
