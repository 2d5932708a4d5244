"""The dispatcher in a real browser (1280×720): what awaits dispatch is on screen without
scrolling (the map folded below), a new item beeps, and a refused Close Ticket leaves the
page on its GET address (post/redirect/get) with the error on top and live updates going on."""

from __future__ import annotations

import aiohttp
import pytest
from playwright.async_api import expect

from browser_stack import escalated_ticket, log_in

pytestmark = pytest.mark.browser


async def test_awaiting_dispatch_is_above_the_fold_and_a_refused_close_keeps_the_page_live(stack, browser):
    import browser_stack

    context, page = await browser_stack.new_page(browser, width=1280, height=720)
    try:
        first = await escalated_ticket(stack, "Jl. Braga 12, Bandung")
        await log_in(page, stack, "dispatcher", "/dispatch")
        row = page.locator(f"#escalated-{first}")
        await expect(row).to_contain_text("Menunggu diteruskan ke OPD/Instansi")  # a text label, not colour alone
        await expect(row).to_be_in_viewport(ratio=1)  # wholly on screen at 1280×720: no scrolling
        await expect(row.locator("a.button")).to_be_in_viewport(ratio=1)
        await expect(page.locator("#loc-board")).not_to_be_in_viewport()  # the map waits, folded below
        await expect(page.locator("#board-map-details")).not_to_have_attribute("open", "")

        # something new needs the dispatcher: it appears live, and the page beeps once
        second = await escalated_ticket(stack, "Jl. Dago 5, Bandung")
        await expect(page.locator(f"#escalated-{second}")).to_be_visible()
        await expect(page.locator("body")).to_have_attribute("data-beeps", "1")

        # dispatch the first ticket to Damkar, then try Close Ticket without the reason it needs
        await row.locator("a").click()
        ticket_url = f"{stack.url}/dispatch/tickets/{first}"
        await expect(page).to_have_url(ticket_url)
        await expect(page.locator("body")).to_have_attribute("data-live", "up")
        await page.check("#agency-damkar")
        await page.click("#dispatch-submit")
        await expect(page.locator("#dispatch-damkar")).to_have_attribute("data-status", "sent")
        await expect(page.locator("body")).to_have_attribute("data-live", "up")
        await page.click("#close-submit")
        await expect(page).to_have_url(ticket_url)  # the GET page, not …/close
        summary = page.locator("#error-summary")
        await expect(summary).to_contain_text("Tulis alasan menutup sebelum semua instansi melapor")
        await expect(summary).to_be_focused()
        await expect(page.locator("body")).to_have_attribute("data-live", "up")

        # live updates go on: Damkar acknowledges elsewhere, this page shows it without a reload
        async with aiohttp.ClientSession(base_url=stack.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            token = (await (await http.get("/api/session")).json())["csrf_token"]
            login = await http.post("/api/session", json={"username": "agency", "password": "agency-demo-112"},
                                    headers={"X-CSRF-Token": token})
            token = (await login.json())["csrf_token"]
            mine = await (await http.get("/api/agency/dispatches")).json()
            [dispatch] = [d for d in mine["open"] if d["ticket_id"] == first]
            ack = await http.post(f"/api/agency/dispatches/{dispatch['id']}/acknowledge",
                                  headers={"X-CSRF-Token": token})
            assert ack.status == 200, await ack.text()
        await expect(page.locator("#dispatch-damkar")).to_have_attribute("data-status", "acknowledged")
        await expect(page.locator("#audit tr[data-action='acknowledge'] .action")).to_have_text("Diterima")

        # Enter in the address bar: a GET of the same page, never a 405
        response = await page.reload()
        assert response is not None and response.status == 200
        await expect(page.locator("#error-summary")).to_have_count(0)
    finally:
        await context.close()
