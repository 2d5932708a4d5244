"""The location pages and API: the shared panel fixtures (tests/panel_fixtures.py) on the
dispatch template (``agency`` in Damkar, ``agency2`` in PSC 119), the panel built by
``location_helpers.make_app`` (``create_app`` plus the include lines the dispatcher's templates
do not have yet) and the real, never connected AMI link."""

from __future__ import annotations

from pathlib import Path

import pytest
from location_helpers import make_app


@pytest.fixture
def panel_database(seeded_dispatch_database: Path) -> Path:
    return seeded_dispatch_database


@pytest.fixture
def panel_app():
    return make_app
