"""End-to-end fixtures for the SOP's whole path: one browser context per user (``stack`` and
``browser`` are the shared ones, tests/panel_fixtures.py)."""

from __future__ import annotations

import browser_stack
import pytest


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
