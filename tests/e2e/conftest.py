"""End-to-end fixtures for the operator: one browser page (``stack`` and ``browser`` are the
shared ones, tests/panel_fixtures.py)."""

from __future__ import annotations

import pytest
from browser_stack import new_page


@pytest.fixture
async def page(browser):
    context, page = await new_page(browser)
    yield page
    await context.close()
