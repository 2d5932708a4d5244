"""End-to-end fixtures for the caller's position: the AMI simulator, the real daemon + panel
(``ngcc112.app.serve``) with the location pages mounted and the report's template includes and
CSP change applied (``location_helpers``), and headless Chromium (Debian's /usr/bin/chromium).
Copied from tests/e2e/conftest.py, not imported from it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel_location"))

from location_helpers import make_app, wire_csp  # noqa: E402

import ngcc112.app as ngcc_app  # noqa: E402
from ngcc112.app import Services, serve  # noqa: E402
from ngcc112.settings import AmiSettings, PanelSettings, Settings  # noqa: E402
from ngcc112.sim.config import SimulatorConfig  # noqa: E402
from ngcc112.sim.server import AmiSimulator  # noqa: E402
from ngcc112.tickets.agencies import seed_agencies  # noqa: E402
from ngcc112.tickets.users import seed_demo_users  # noqa: E402

CHROMIUM = os.environ.get("NGCC112_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Simulated seconds per real second: a 3 s silent-call prompt takes 0.3 s.
SPEED = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    sim: AmiSimulator
    services: Services
    url: str


def _factory(services: Services):
    app = make_app(services)
    wire_csp(app, services.settings.panel.tile_url)
    return app


@contextlib.asynccontextmanager
async def running_stack(database: Path, *, tile_url: str = "", speed: float = SPEED) -> AsyncIterator[Stack]:
    """Simulator, then daemon + panel (with the location pages) on a free port, demo users."""
    sim = AmiSimulator(SimulatorConfig(port=0, speed=speed))
    await sim.start()
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{database}",
        ami=AmiSettings(port=sim.port, secret="ngcc-secret", reconnect_min=0.1, reconnect_max=1.0),
        panel=PanelSettings(port=port, cookie_secret="e2e", tile_url=tile_url),
        log_format="console", log_level="warning",
    )
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        await seed_demo_users(services.sessions)
        await seed_agencies(services.sessions)
        ready.set_result(services)

    stop = asyncio.Event()
    original = ngcc_app._panel_factory
    ngcc_app._panel_factory = lambda: _factory  # type: ignore[assignment]
    task = asyncio.create_task(serve(settings, stop=stop, on_ready=on_ready, say=lambda _line: None))
    try:
        done, _ = await asyncio.wait({task, ready}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        if ready not in done:
            raise RuntimeError("ngcc112 did not start within 30 s")
        services = ready.result()
        for _ in range(300):
            if services.daemon.link.connected:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError("the daemon did not log in to the simulator")
        yield Stack(sim, services, f"http://127.0.0.1:{port}")
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 15)
        ngcc_app._panel_factory = original  # type: ignore[assignment]
        await sim.stop()


@pytest.fixture
def tile_url() -> str:
    return ""


@pytest.fixture
async def stack(tmp_path, tile_url) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path / "t.db", tile_url=tile_url) as running:
        yield running


@pytest.fixture
async def browser():
    playwright_api = pytest.importorskip("playwright.async_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with playwright_api.async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                                    headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def page(browser):
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    page.on("console", lambda message: page.errors.append(message.text)  # type: ignore[attr-defined]
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    await context.close()
