"""Fixtures for the panel's API tests: real database, real hub, a fake AMI link."""

from __future__ import annotations

import shutil

import pytest
from panel_helpers import FakeLink

from ngcc112.app import build
from ngcc112.hub import Hub
from ngcc112.panel.app import create_app
from ngcc112.settings import PanelSettings, Settings


@pytest.fixture
async def services(tmp_path, seeded_database):
    database = tmp_path / "panel.db"
    shutil.copyfile(seeded_database, database)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}",
                        panel=PanelSettings(cookie_secret="test-secret"))
    hub = Hub()
    built = await build(settings, migrate=False, hub=hub, link=lambda _receive: FakeLink(hub))
    await built.wrapup.start()  # after-call work runs beside the daemon, as serve() starts it
    yield built
    await built.wrapup.stop()
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
