"""The running stack the browser tests drive: the AMI simulator, the real daemon + panel
(``ngcc112.app.serve``) on a free port with a fresh SQLite database, the demo users and
agencies, and headless Chromium (Debian's /usr/bin/chromium, never a downloaded browser).

Everything runs in real time, as a browser does: the simulator on the host's clock, its
seconds are real seconds. The scenarios are short (the prompt is the shipped dialplan's
beep fallback, so a call reaches the queue 4 s after the answer), and every check waits
for its condition with a generous timeout, never for a fixed time.

Shared by tests/e2e, tests/e2e_sop and tests/e2e_location (each conftest picks the fixtures).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ngcc112.app import serve
from ngcc112.services import Services
from ngcc112.settings import AmiSettings, AmlSettings, CallFlowSettings, PanelSettings, Settings
from ngcc112.sim.config import SimulatorConfig
from ngcc112.sim.server import AmiSimulator
from ngcc112.tickets.agencies import seed_agency_member
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged
from ngcc112.tickets.users import seed_demo_users

CHROMIUM = os.environ.get("NGCC112_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Real milliseconds a page action or an ``expect`` waits for its condition: generous,
#: so that a busy machine is no fault (a passing check never waits for it).
BROWSER_TIMEOUT_MS = 30_000
#: Real seconds the stack may take to start and log in to the simulator.
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    sim: AmiSimulator
    services: Services
    url: str

    def actions(self, name: str) -> list[dict[str, str]]:
        return [headers for _user, headers in self.sim.received_actions
                if headers.get("Action", "").lower() == name.lower()]


@contextlib.asynccontextmanager
async def running_stack(database: Path, *, tile_url: str = "", wrapup_seconds: float = 60.0,
                        seeded: Path | None = None) -> AsyncIterator[Stack]:
    """Simulator, then daemon + panel; yields once the daemon is logged in to the simulator.
    ``seeded``: a migrated database with the demo users to start from (the ``seeded_database``
    fixture), instead of migrating and hashing the demo passwords again."""
    if seeded is not None:
        shutil.copyfile(seeded, database)
    # the host's clock; no prompt file installed: the dialplan's beep (0.5 s + 3 s)
    sim = AmiSimulator(SimulatorConfig(port=0, prompt_sound=False))
    await sim.start()
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        # real-time bounds on the AMI link's own actions: generous, a busy machine is no fault
        ami=AmiSettings(port=sim.port, secret="ngcc-secret", reconnect_min=0.1, reconnect_max=1.0,
                        ping_interval=30.0, action_timeout=30.0),
        panel=PanelSettings(port=port, cookie_secret="e2e", tile_url=tile_url),
        # model_construct: the tests' wrap-up may be shorter than a sysadmin may set (5 s), for speed
        calls=CallFlowSettings.model_construct(wrapup_seconds=wrapup_seconds),
        # the tests post AML positions from this host, as a gateway on an allowed network would
        aml=AmlSettings(allow_networks=("127.0.0.1/32",)),
        log_format="console", log_level="warning",
    )
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        if seeded is None:
            await seed_demo_users(services.sessions)  # agencies are seeded by every start
        await seed_agency_member(services.sessions, "agency", "damkar")
        ready.set_result(services)

    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, say=lambda _line: None))
    try:
        starting: set[asyncio.Future[Any]] = {task, ready}
        done, _ = await asyncio.wait(starting, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # raises the start-up failure
        if ready not in done:
            raise RuntimeError(f"ngcc112 did not start within {START_TIMEOUT:g} s")
        services = ready.result()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not services.daemon.link.connected:  # the AMI link logs in right after start
            if loop.time() > deadline:
                raise RuntimeError("the daemon did not log in to the simulator")
            await asyncio.sleep(0.02)
        yield Stack(sim, services, f"http://127.0.0.1:{port}")
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        await sim.stop()


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Any]:
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    playwright_api.expect.set_options(timeout=BROWSER_TIMEOUT_MS)
    async with playwright_api.async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Any, width: int = 1280, height: int = 900) -> tuple[Any, Any]:
    """(context, page): a fresh browser context — its own cookies, so its own user."""
    context = await browser.new_context(viewport={"width": width, "height": height})
    page = await context.new_page()
    page.set_default_timeout(BROWSER_TIMEOUT_MS)
    return context, page


# -- what every browser test does ---------------------------------------------------------


async def log_in(page: Any, stack: Stack, username: str, landing: str = "/", *, live: bool = True) -> None:
    """Log in as ``username`` (the demo password) and wait for the landing page (and, on a
    page with live updates, until its live channel is up)."""
    from playwright.async_api import expect

    await page.goto(f"{stack.url}/login?next={landing}")
    await page.fill("#username", username)
    await page.fill("#password", f"{username}-demo-112")
    await page.click("button[type=submit].primary")
    if live:
        await expect(page.locator("body")).to_have_attribute("data-live", "up")
    else:
        await expect(page).to_have_url(f"{stack.url}{landing}")


async def log_in_and_go_ready(page: Any, stack: Stack, username: str = "op1") -> None:
    """An operator logged in and Ready in the queue."""
    from playwright.async_api import expect

    await log_in(page, stack, username)
    await page.click("#go-ready")
    await expect(page.locator("#presence-state")).to_have_attribute("data-state", "ready")


async def until(check: Any, timeout: float = 15.0, what: str = "the condition") -> Any:
    """Poll an async ``check`` until it returns something true; a real-time bound only a hang reaches."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


_ids = itertools.count(1)


async def escalated_ticket(stack: Stack, address: str, number: str = "081234567890") -> int:
    """A ticket the operator escalated a moment ago, announced on the hub as the use case would."""
    now = datetime.now(timezone.utc)
    linkedid = f"1764990000.{next(_ids)}"
    async with stack.services.sessions.begin() as session:
        ticket = Ticket(linkedid=linkedid, state="escalated", verdict="normal", category="fire",
                        arrived_at=now - timedelta(seconds=90), variables={}, score_reasons=[], abandoned=False,
                        withdrawn=False, ended_unobserved=False, caller_number=number,
                        intake={"address": address, "description": "Asap tebal"})
        session.add(ticket)
        await session.flush()
        session.add(AuditEntry(ticket_id=ticket.id, at=now, actor="op1", action="escalate",
                               from_state="classified", to_state="escalated", changes={}))
        ticket_id = ticket.id
    stack.services.hub.publish(TicketChanged(ticket_id=ticket_id, linkedid=linkedid, action="escalate", at=now,
                                             state="escalated", changes={"state": "escalated"}))
    return ticket_id
