"""Fixtures for the panel's API tests: real database, real hub, a fake AMI link."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from panel_helpers import FakeLink

from ngcc112.app import build
from ngcc112.panel.app import create_app
from ngcc112.settings import PanelSettings, Settings
from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.users import seed_demo_users


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory) -> Path:
    """A migrated database with the demo users, made once; each test gets a copy."""
    path = tmp_path_factory.mktemp("panel-template") / "panel.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def prepare() -> None:
        await upgrade(url)
        engine = make_engine(url)
        await seed_demo_users(make_sessions(engine))
        await engine.dispose()

    asyncio.run(prepare())
    return path


@pytest.fixture
async def services(tmp_path, seeded_database):
    database = tmp_path / "panel.db"
    shutil.copyfile(seeded_database, database)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}",
                        panel=PanelSettings(cookie_secret="test-secret"))
    built = await build(settings, migrate=False)
    built.daemon.link = FakeLink(built.hub)  # type: ignore[assignment]
    yield built
    await built.engine.dispose()


@pytest.fixture
def fake_link(services) -> FakeLink:
    return services.daemon.link


@pytest.fixture
async def client(aiohttp_client, services):
    return await aiohttp_client(create_app(services))


@pytest.fixture
def other_client(aiohttp_client, client):
    """A second browser on the same server (its own cookie jar)."""

    async def make():
        from aiohttp.test_utils import TestClient

        second = TestClient(client.server)
        await second.start_server()
        return second

    return make
