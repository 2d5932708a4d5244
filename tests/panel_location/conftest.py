"""Fixtures for the location pages and API: a real database (demo users, agencies, agency
members) and hub; the panel built by ``location_helpers.make_app`` (``create_app`` plus the
include lines the dispatcher's templates do not have yet)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from location_helpers import make_app

from ngcc112.app import build
from ngcc112.settings import PanelSettings, Settings
from ngcc112.tickets.agencies import seed_agencies, seed_agency_member
from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.users import add_user, seed_demo_users


@pytest.fixture(scope="session")
def seeded_location_database(tmp_path_factory) -> Path:
    """Migrated, with the demo users, the agencies, ``agency`` in Damkar and ``agency2`` in PSC 119."""
    path = tmp_path_factory.mktemp("location-template") / "location.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def prepare() -> None:
        await upgrade(url)
        engine = make_engine(url)
        sessions = make_sessions(engine)
        await seed_demo_users(sessions)
        await seed_agencies(sessions)
        await seed_agency_member(sessions, "agency", "damkar")
        await add_user(sessions, username="agency2", role="agency", password="agency2-demo-112", agency="psc119")
        await engine.dispose()

    asyncio.run(prepare())
    return path


@pytest.fixture
def tile_url() -> str:
    return ""


@pytest.fixture
async def services(tmp_path, seeded_location_database, tile_url):
    database = tmp_path / "location.db"
    shutil.copyfile(seeded_location_database, database)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}",
                        panel=PanelSettings(cookie_secret="test-secret", tile_url=tile_url))
    built = await build(settings, migrate=False)
    yield built
    await built.engine.dispose()


@pytest.fixture
async def client(aiohttp_client, services):
    return await aiohttp_client(make_app(services))
