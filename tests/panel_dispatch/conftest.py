"""The dispatch pages and API: the shared panel fixtures (tests/panel_fixtures.py) on the
dispatch template (agencies, agency members, a second dispatcher), with a fake AMI link that
answers Originate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from dispatch_helpers import OriginateLink

from ngcc112.hub import Hub


@pytest.fixture
def panel_database(seeded_dispatch_database: Path) -> Path:
    return seeded_dispatch_database


@pytest.fixture
def fake_ami() -> Callable[[Hub], OriginateLink]:
    return lambda _hub: OriginateLink()


@pytest.fixture
def link(services) -> OriginateLink:
    return services.daemon.link
