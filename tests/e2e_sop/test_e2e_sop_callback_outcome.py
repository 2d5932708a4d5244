"""A callback closes the loop, in a real browser on the simulator: an operator calls an abandoned
caller back from /callbacks, the answered callback pops the call's intake on the operator's desk,
the outcome is recorded and shown, and the row no longer offers "call back"."""

from __future__ import annotations


import pytest
from playwright.async_api import expect

from ngcc112.sim.calls import CallScript
from browser_stack import log_in, until

pytestmark = pytest.mark.browser


async def test_an_answered_callback_opens_the_intake_and_its_outcome_closes_the_row(stack, new_page):
    call = await stack.sim.place_call(CallScript(number="081266665555", name="Pak Joko", hangup_after=2.0))

    async def abandoned():
        ticket = await stack.services.store.by_linkedid(call.linkedid)
        return ticket if ticket is not None and ticket.abandoned and ticket.ended_at else None

    ticket = await until(abandoned)
    stack.sim.set_softphone("op1", answers=True, ring_seconds=1.0, talk_seconds=60.0)
    operator = await new_page()
    await log_in(operator, stack, "op1", "/")
    # the desk's navigation leads to the callbacks list
    await operator.locator("#topnav a[href='/callbacks']").click()
    await expect(operator.locator("#topnav a[aria-current='page']")).to_have_attribute("href", "/callbacks")
    row = operator.locator(f"#callback-{ticket.id}")
    await expect(row).to_contain_text("081266665555")
    await row.locator("form[action$='/callback'] button").click()
    await expect(operator.locator("#flash")).to_be_visible()

    # the softphone answers: the daemon hears it (OriginateResponse) and the intake opens on op1's desk
    async def answered():
        return [a for a in await stack.services.store.audit(ticket.id)
                if a.action == "callback_result" and a.changes.get("intake_opened")]

    [result] = await until(answered)
    assert result.changes["interface"] == "PJSIP/op1"
    await operator.locator("#topnav a[href='/']").click()
    await expect(operator.locator("#active")).to_have_attribute("data-ticket-id", str(ticket.id))
    await expect(operator.locator("#active .caller-number")).to_have_text("081266665555")
    await expect(operator.locator("#verdict-normal")).to_be_visible()

    # the caller was reached: recorded from the callbacks list, shown, and no more "call back"
    await operator.locator("#topnav a[href='/callbacks']").click()
    await expect(operator.locator("body")).to_have_attribute("data-live", "up")
    await operator.click(f"#reached-{ticket.id}")
    await expect(operator.locator("#flash")).to_have_text("Hasil dicatat")
    await expect(row).to_have_attribute("data-outcome", "reached")
    await expect(row.locator(f"#outcome-{ticket.id}")).to_have_text("Tersambung")
    await expect(row.locator("form[action$='/callback']")).to_have_count(0)
    await expect(row).to_contain_text("Tidak perlu ditelepon balik")
    outcomes = [a for a in await stack.services.store.audit(ticket.id) if a.action == "callback_outcome"]
    assert [(a.actor, a.changes["outcome"]) for a in outcomes] == [("op1", "reached")]

    # and the intake is completed on the desk, through the ordinary form
    await operator.locator("#topnav a[href='/']").click()
    await operator.check("#verdict-information")
    await operator.fill("#note", "Penelepon menanyakan nomor puskesmas; sudah dijawab")
    await operator.click("#intake-submit")
    await expect(operator.locator("#flash")).to_be_visible()

    async def closed():
        current = await stack.services.store.get(ticket.id)
        return current if current.state == "closed" else None

    done = await until(closed)
    assert (done.verdict, done.answered_at) == ("information", None)
