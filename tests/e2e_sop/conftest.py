"""End-to-end fixtures for the SOP's whole path: the running stack and one browser context per user."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import browser_stack
from browser_stack import Stack, chromium, running_stack


@pytest.fixture
async def stack(tmp_path, seeded_database) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path / "sop.db", seeded=seeded_database) as running:
        yield running


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def new_page(browser):
    """A fresh browser context (its own cookies: its own user) per call."""
    contexts = []

    async def make():
        context, page = await browser_stack.new_page(browser)
        contexts.append(context)
        return page

    yield make
    for context in contexts:
        await context.close()
