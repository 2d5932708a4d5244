"""The security tests: the shared panel fixtures (tests/panel_fixtures.py) behind a reverse proxy
on 127.0.0.1, so that a test's ``X-Forwarded-For`` names the desk a login comes from (the login
throttle counts per address; a session keeps the address it was opened from). The boundary tests
(``boundary/``) run on a panel of their own."""

from __future__ import annotations

import pytest

from ngcc112.settings import PanelSettings


@pytest.fixture
def panel_settings() -> PanelSettings:
    return PanelSettings(cookie_secret="test-secret", trusted_proxies=("127.0.0.1/32",))
