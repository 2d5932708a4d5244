"""Fixtures for the dispatch pages and API: real database and hub, a fake AMI link that answers
Originate; the panel's own ``create_app`` (which mounts the dispatch pages)."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from dispatch_helpers import OriginateLink, make_app

from ngcc112.app import build
from ngcc112.settings import PanelSettings, Settings
from ngcc112.tickets.agencies import seed_agencies, seed_agency_member
from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.users import add_user, seed_demo_users

#: Extra accounts: (username, role, interface, agency).
EXTRA_USERS = (
    ("agency2", "agency", None, "psc119"),
    ("dispatcher2", "dispatcher", "PJSIP/disp1", None),
)


@pytest.fixture(scope="session")
def seeded_dispatch_database(tmp_path_factory) -> Path:
    """A migrated database with the demo users, the agencies and agency members; copied per test."""
    path = tmp_path_factory.mktemp("dispatch-template") / "dispatch.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def prepare() -> None:
        await upgrade(url)
        engine = make_engine(url)
        sessions = make_sessions(engine)
        await seed_demo_users(sessions)
        await seed_agencies(sessions)
        await seed_agency_member(sessions, "agency", "damkar")
        for username, role, interface, agency in EXTRA_USERS:
            await add_user(sessions, username=username, role=role, password=f"{username}-demo-112",
                           interface=interface, agency=agency)
        await engine.dispose()

    asyncio.run(prepare())
    return path


@pytest.fixture
async def services(tmp_path, seeded_dispatch_database):
    database = tmp_path / "dispatch.db"
    shutil.copyfile(seeded_dispatch_database, database)
    settings = Settings(database_url=f"sqlite+aiosqlite:///{database}",
                        panel=PanelSettings(cookie_secret="test-secret"))
    built = await build(settings, migrate=False, link=lambda _receive: OriginateLink())
    yield built
    await built.engine.dispose()


@pytest.fixture
def link(services) -> OriginateLink:
    return services.daemon.link


@pytest.fixture
async def client(aiohttp_client, services):
    return await aiohttp_client(make_app(services))


@pytest.fixture
async def other_client(client):
    """Another browser on the same server (its own cookie jar)."""
    made = []

    async def make():
        from aiohttp.test_utils import TestClient

        second = TestClient(client.server)
        await second.start_server()
        made.append(second)
        return second

    yield make
    for second in made:
        await second.close()
