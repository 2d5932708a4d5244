"""The boundary tests (bad input, the API and form fuzzers): the shared panel fixtures
(tests/panel_fixtures.py) on a database with an account for each role, the agencies and a few
tickets at each stage (``test_fuzz_support.seed``), with a stand-in for Asterisk that always
answers. ``panel`` is that panel as the blocking HTTP clients of the fuzzers meet it.

A test runs on PostgreSQL by parametrizing ``panel_backend`` (indirect) with ``"postgresql"``
(``database_fixtures.BACKENDS``: on both): a fresh database is seeded for it, without the observers.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from database_fixtures import POSTGRES_ADMIN_URL, create_postgres_database, drop_postgres_database, sqlite_url

from ngcc112.services import Services

from .test_fuzz_support import LivePanel, QuietLink, seed


@pytest.fixture(scope="session")
def boundary_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seeded SQLite template, made once per run (the password hashes take their time)."""
    path = tmp_path_factory.mktemp("boundary-template") / "template.db"
    asyncio.run(seed(sqlite_url(path)))
    return path


@pytest.fixture
def panel_database(boundary_database: Path) -> Path:
    return boundary_database


@pytest.fixture
def panel_backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    """(backend, PostgreSQL's migrated template): ``"sqlite"`` unless a test parametrizes this;
    the template is looked up here, outside the test's event loop (None: no server answers)."""
    backend = str(getattr(request, "param", "sqlite"))
    return backend, request.getfixturevalue("migrated_postgres") if backend == "postgresql" else None


@pytest.fixture
async def panel_database_url(
    panel_backend: tuple[str, str | None], panel_database: Path, tmp_path: Path
) -> AsyncIterator[str]:
    """A copy of the seeded template; on PostgreSQL, a database of its own seeded for the test."""
    backend, template = panel_backend
    if backend == "sqlite":
        database = tmp_path / "panel.db"
        shutil.copyfile(panel_database, database)
        yield sqlite_url(database)
        return
    url = None if template is None else await create_postgres_database(template=template)
    if url is None:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}")
    try:
        await seed(url, observers=False)
        yield url
    finally:
        await drop_postgres_database(url)


@pytest.fixture
def fake_ami() -> type[QuietLink]:
    return QuietLink


@pytest.fixture
def panel(services: Services, client: TestClient[Any, Any]) -> LivePanel:
    """The panel listening on 127.0.0.1, with the address the fuzzers' blocking clients use."""
    return LivePanel(services, client.server, str(client.make_url("")).rstrip("/"))
