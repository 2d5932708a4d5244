"""End-to-end fixtures for the caller's position: a page that records script and
Content-Security-Policy errors (``stack``, ``tile_url`` and ``browser`` are the shared ones,
tests/panel_fixtures.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from browser_stack import new_page

# The tests build tickets, fixes and AML bodies with the location API tests' helpers.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "panel_location"))


@pytest.fixture
async def page(browser):
    context, page = await new_page(browser, 1400, 1000)
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda error: page.errors.append(str(error)))  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda message: (
            page.errors.append(message.text)  # type: ignore[attr-defined]
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    yield page
    await context.close()
