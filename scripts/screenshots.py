"""Screenshots of the operator's main screens, for the README and the docs.

Runs the same setup as the end-to-end tests — the AMI simulator, the daemon and
the panel (``ngcc112.app.serve``) with a throw-away SQLite database — and
drives headless Chromium (Debian's ``/usr/bin/chromium``; never a downloaded
browser) through: login, ready board, screen-pop of a ringing call, intake form.

    python scripts/screenshots.py [--out docs/screenshots] [--language id|en]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import sys
import tempfile
from pathlib import Path

from playwright.async_api import Page, async_playwright, expect

from ngcc112.app import serve
from ngcc112.services import Services
from ngcc112.settings import AmiSettings, PanelSettings, Settings
from ngcc112.sim.calls import CallScript, Location
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.server import AmiSimulator
from ngcc112.tickets import intake
from ngcc112.tickets import intake_form
from ngcc112.tickets.agencies import seed_agency_member
from ngcc112.tickets.users import seed_demo_users

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("NGCC112_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NUMBER = "081234567890"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def _stack(database: Path):
    # Real time, as the browser runs; the dialplan's beep prompt (no prompt file) keeps it short.
    sim = AmiSimulator(SimulatorConfig(port=0, prompt_sound=False))
    await sim.start()
    port = _free_port()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}",
                        ami=AmiSettings(port=sim.port, secret="ngcc-secret", reconnect_min=0.1),
                        panel=PanelSettings(port=port), log_format="console", log_level="warning")
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        await seed_demo_users(services.sessions)
        await seed_agency_member(services.sessions, "agency", "damkar")
        ready.set_result(services)

    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, say=lambda _line: None))
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        services = ready.result()
        while not services.daemon.link.connected:
            await asyncio.sleep(0.02)
        yield sim, services, f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        await sim.stop()


async def _earlier_prank(sim: AmiSimulator, services: Services) -> None:
    """A closed prank call from the same number, so the screen-pop has history to show."""
    sim.set_softphone("op3", answers=True, ring_seconds=1.0)
    # hangs up half a second into the queue (the beep prompt ends 4 s after the answer)
    await sim.place_call(CallScript(number=NUMBER, name="Budi", hangup_after=4.5))
    await sim.wait_idle()
    await services.daemon.drained()
    ticket = (await services.store.recent(1))[0]
    dispatcher = next(u for u in await _users(services) if u.username == "dispatcher")
    data = intake_form.IntakeData(verdict="prank", note="Anak-anak bermain telepon")
    await intake.complete_intake(services.sessions, services.hub.publish, ticket.id, dispatcher, data)


async def _users(services: Services):
    from ngcc112.tickets.users import list_users

    return await list_users(services.sessions)


async def _shoot(page: Page, out: Path, name: str) -> None:
    path = out / name
    await page.screenshot(path=str(path), full_page=True)
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


async def _log_in(browser, url: str, username: str, landing: str, language: str) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 860})
    page.set_default_timeout(15_000)
    await page.goto(f"{url}/login?next={landing}")
    if language != "id":
        await page.click(f"form.lang button[value={language}]")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo-112")
    await page.click("button[type=submit].primary")
    await expect(page).to_have_url(f"{url}{landing}")
    return page


async def _as_other_roles(browser, url: str, out: Path, ticket_id: int, language: str) -> None:
    """The dispatcher's board and ticket search, and the agency's page of its dispatch."""
    dispatcher = await _log_in(browser, url, "dispatcher", "/dispatch", language)
    await expect(dispatcher.locator(f"#escalated-{ticket_id}")).to_be_visible()
    await _shoot(dispatcher, out, "06-dispatcher-board.png")
    await dispatcher.goto(f"{url}/dispatch/tickets/{ticket_id}")
    await dispatcher.check("#agency-damkar")
    await dispatcher.fill("#instructions", "Bawa tangga dan alat bantu napas")
    await dispatcher.click("#dispatch-submit")
    await expect(dispatcher.locator("#dispatch-damkar")).to_have_attribute("data-status", "sent")
    await dispatcher.goto(f"{url}/dispatch/tickets?number={NUMBER[:4]}")
    await expect(dispatcher.locator(f"#found-{ticket_id}")).to_be_visible()
    await _shoot(dispatcher, out, "07-ticket-search.png")
    agency = await _log_in(browser, url, "agency", "/agency", language)
    await agency.locator("a.button").first.click()
    await expect(agency.locator("body")).to_have_attribute("data-live", "up")
    await _shoot(agency, out, "08-agency-dispatch.png")


async def main(out: Path, language: str) -> int:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        async with _stack(Path(tmp) / "screens.db") as (sim, services, url), async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = await browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(15_000)
            await _earlier_prank(sim, services)

            await page.goto(f"{url}/login")
            if language != "id":
                await page.click(f"form.lang button[value={language}]")
            await page.fill("#username", "op1")
            await _shoot(page, out, "01-login.png")
            await page.fill("#password", "op1-demo-112")
            await page.click("button[type=submit].primary")
            await expect(page.locator("body")).to_have_attribute("data-live", "up")
            await page.click("#go-ready")
            await expect(page.locator("#presence-state")).to_have_attribute("data-state", "ready")
            await _shoot(page, out, "02-ready.png")

            # rings long enough to photograph the screen-pop before the softphone answers
            sim.set_softphone("op1", answers=True, ring_seconds=6.0)
            await sim.place_call(CallScript(number=NUMBER, name="Budi Santoso", hangup_after=None,
                                            location=Location.circle(-6.9147, 107.6098, radius=30)))
            await expect(page.locator("#ringing .caller-number")).to_have_text(NUMBER)
            await expect(page.locator("#ringing .history-line")).to_be_visible()
            await _shoot(page, out, "03-screen-pop.png")

            await expect(page.locator("#intake")).to_be_visible(timeout=30_000)
            await page.check("#verdict-normal")
            await page.fill("#address", "Jl. Asia Afrika 8, Bandung")
            await page.select_option("#category", "fire")
            await page.fill("#description", "Asap tebal dari lantai dua, penghuni masih di dalam")
            await expect(page.locator("#stopwatch")).not_to_have_text("00:00")
            await _shoot(page, out, "04-intake.png")

            await page.fill("#description", "")
            await page.click("details.coordinates summary")
            await page.fill("#latitude", "-95")
            await page.click("#intake-submit")
            await expect(page.locator("#error-summary")).to_be_focused()
            await expect(page.locator("#description-error")).to_be_visible()
            await _shoot(page, out, "05-intake-errors.png")

            # the intake completed: the ticket goes to the dispatchers
            await page.fill("#latitude", "-6.9147")
            await page.fill("#description", "Asap tebal dari lantai dua, penghuni masih di dalam")
            await page.click("#intake-submit")
            await expect(page.locator("#flash")).to_be_visible()
            ticket_id = (await services.store.recent(1))[0].id
            await _as_other_roles(browser, url, out, ticket_id, language)
            await browser.close()
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--language", choices=("id", "en"), default="id")
    arguments = parser.parse_args()
    sys.exit(asyncio.run(main(arguments.out, arguments.language)))
