"""The panel's API tests: the shared panel fixtures (tests/panel_fixtures.py) with a fake AMI
link that answers queue actions and reports member events like Asterisk."""

from __future__ import annotations

import pytest
from panel_helpers import FakeLink


@pytest.fixture
def fake_ami() -> type[FakeLink]:
    return FakeLink


@pytest.fixture
def fake_link(services) -> FakeLink:
    return services.daemon.link
