"""End-to-end fixtures for the operator: the running stack and one browser page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from browser_stack import Stack, chromium, new_page, running_stack


@pytest.fixture
async def stack(tmp_path, seeded_database) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path / "t.db", seeded=seeded_database) as running:
        yield running


@pytest.fixture
async def browser():
    async with chromium() as browser:
        yield browser


@pytest.fixture
async def page(browser):
    context, page = await new_page(browser)
    yield page
    await context.close()
