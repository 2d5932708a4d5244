"""End-to-end fixtures for the caller's position: the running stack (optionally with a tile
server setting) and a page that records script and Content-Security-Policy errors."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_stack import Stack, chromium, new_page, running_stack

# The tests build tickets, fixes and AML bodies with the location API tests' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel_location"))


@pytest.fixture
def tile_url() -> str:
    return ""


@pytest.fixture
async def stack(tmp_path, tile_url, seeded_database) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path / "t.db", tile_url=tile_url, seeded=seeded_database) as running:
        yield running


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def page(browser):
    context, page = await new_page(browser, 1400, 1000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    page.on("console", lambda message: page.errors.append(message.text)  # type: ignore[attr-defined]
            if message.type == "error" and "Content Security Policy" in message.text else None)
    yield page
    await context.close()
