"""Every role in a real browser: the sections it may use are in the navigation of every page
(the current one marked), the dispatcher finds a ticket by its number and opens it, and the
administrator resets a password and disables an account — in Indonesian, by default."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

import browser_stack
from browser_stack import escalated_ticket, log_in

pytestmark = pytest.mark.browser

#: role's user → (landing page, whether it has live updates, the links of its navigation)
NAVIGATION = {
    "op1": ("/", True, ["/", "/board", "/callbacks"]),
    "dispatcher": ("/dispatch", True, ["/dispatch", "/dispatch/tickets", "/callbacks", "/reports", "/board"]),
    "agency": ("/agency", True, ["/agency"]),
    "admin": ("/admin/users", False, ["/admin/users", "/admin/agencies", "/reports"]),
}


@pytest.mark.parametrize("username", sorted(NAVIGATION))
async def test_each_role_finds_its_sections_in_the_navigation(stack, browser, username):
    landing, live, links = NAVIGATION[username]
    context, page = await browser_stack.new_page(browser, width=1280, height=720)
    try:
        await log_in(page, stack, username, landing, live=live)
        nav = page.locator("#topnav")
        await expect(nav).to_have_attribute("aria-label", "Bagian")
        await expect(nav.locator("a")).to_have_count(len(links))
        assert [await a.get_attribute("href") for a in await nav.locator("a").all()] == links
        await expect(nav.locator(f'a[href="{landing}"]')).to_have_attribute("aria-current", "page")
        # every other section opens from the navigation and is marked there in turn
        for href in links:
            if href == landing:
                continue
            await nav.locator(f'a[href="{href}"]').click()
            await expect(page).to_have_url(f"{stack.url}{href}")
            await expect(page.locator(f'#topnav a[href="{href}"]')).to_have_attribute("aria-current", "page")
            assert await page.locator("#topnav a[aria-current=page]").count() == 1
    finally:
        await context.close()


async def test_the_dispatcher_finds_a_ticket_by_its_number_and_opens_it(stack, browser):
    wanted = await escalated_ticket(stack, "Jl. Asia Afrika 8, Bandung", number="085612345678")
    other = await escalated_ticket(stack, "Jl. Riau 3, Bandung", number="081111222333")
    context, page = await browser_stack.new_page(browser, width=1280, height=720)
    try:
        await log_in(page, stack, "dispatcher", "/dispatch")
        await page.locator('#topnav a[href="/dispatch/tickets"]').click()
        await page.fill("#number", "0856")
        await page.select_option("#state", "escalated")
        await page.click("#search-submit")
        await expect(page.locator("#results-total")).to_have_text("1")
        await expect(page.locator(f"#found-{wanted}")).to_contain_text("Diserahkan ke dispatcher")
        await expect(page.locator(f"#found-{other}")).to_have_count(0)
        assert "number=0856" in await page.locator("#csv-link").get_attribute("href")
        await page.locator(f"#found-{wanted} a.button").click()
        await expect(page).to_have_url(f"{stack.url}/dispatch/tickets/{wanted}")
        await expect(page.locator("body")).to_have_attribute("data-live", "up")
        # a filter that is not a state is told, not a server error
        await page.goto(f"{stack.url}/dispatch/tickets?state=nonsense")
        await expect(page.locator("#error-summary")).to_be_visible()
    finally:
        await context.close()


async def test_the_administrator_resets_a_password_and_disables_an_account(stack, browser):
    context, page = await browser_stack.new_page(browser, width=1280, height=720)
    try:
        await log_in(page, stack, "admin", "/admin/users", live=False)
        # an agency account without its agency is refused: back on the page, typed values kept
        await page.fill("#new-username", "petugas.bpbd")
        await page.fill("#new-display_name", "Petugas BPBD")
        await page.fill("#new-password", "bpbd-sementara-112")
        await page.select_option("#new-role", "agency")
        await page.click("#user-add")
        await expect(page).to_have_url(f"{stack.url}/admin/users")  # post/redirect/get
        await expect(page.locator("#error-summary")).to_be_focused()
        await expect(page.locator("#error-summary")).to_contain_text("Pengguna instansi harus memiliki instansi")
        await expect(page.locator("#new-username")).to_have_value("petugas.bpbd")
        await expect(page.locator("#new-password")).to_have_value("")  # never a password kept

        row = page.locator('#users tr[data-username="op2"]')
        user_id = (await row.get_attribute("id")).removeprefix("user-")
        await page.locator(f"#password-form-{user_id} input[name=password]").fill("op2-new-secret-112")
        await page.locator(f"#password-form-{user_id} button[type=submit]").click()
        await expect(page.locator("#flash")).to_have_text(
            "Kata sandi diatur ulang; sesi pengguna telah berakhir")
        await page.locator(f'input[form="user-form-{user_id}"][name="active"]').uncheck()
        await page.locator(f"#user-form-{user_id} button[type=submit]").click()
        await expect(page.locator("#flash")).to_have_text("Pengguna diperbarui")
        await expect(page.locator(f"#user-{user_id}")).to_contain_text("Nonaktif")
    finally:
        await context.close()
