"""A pytest plugin: the panel's test fixtures, one set for every panel test directory.

``services`` is the real app (``ngcc112.app.build``) on a copy of a seeded SQLite template,
``client`` an aiohttp test client of the panel on it, ``other_client`` a second browser on the
same server. What differs per directory is chosen by overriding one small fixture in its
conftest.py:

- ``panel_database``: which seeded template (demo users; or with the agencies, for dispatch);
- ``panel_database_url``: where the panel's database is (a copy of ``panel_database`` in the
  test's tmp_path; e.g. ``seeded_database_url`` to run on PostgreSQL too);
- ``panel_settings``: the ``[panel]`` settings (a cookie secret, ``tile_url``'s tile server);
- ``fake_ami``: the stand-in for the AMI link, built on the hub (None: the real, unconnected one);
- ``panel_app``: the aiohttp app made of the services (default: ``create_app``).

The browser tests (tests/e2e*) get ``stack``, the whole running system (tests/browser_stack.py)
on a copy of the seeded template, and ``browser``, headless Chromium; each directory makes its
own pages.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from browser_stack import Stack, chromium, running_stack
from database_fixtures import sqlite_url

from ngcc112.app import Services, build
from ngcc112.hub import Hub
from ngcc112.panel.app import create_app
from ngcc112.settings import PanelSettings, Settings
from ngcc112.tickets.agencies import seed_agencies, seed_agency_member
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.users import add_user

#: Accounts beyond the demo ones in the dispatch template: (username, role, interface, agency).
DISPATCH_USERS = (
    ("agency2", "agency", None, "psc119"),
    ("dispatcher2", "dispatcher", "PJSIP/disp1", None),
)


async def login(client: TestClient[Any, Any], username: str = "op1", password: str | None = None) -> str:
    """Log in through the API (the demo password unless given); return the session's CSRF token."""
    password = password or f"{username}-demo-112"
    token = (await (await client.get("/api/session")).json())["csrf_token"]
    response = await client.post(
        "/api/session", json={"username": username, "password": password}, headers={"X-CSRF-Token": token}
    )
    assert response.status == 200, await response.text()
    return str((await response.json())["csrf_token"])


def _seeded_copy(
    migrated: Path, folder: Path, seed: Callable[[async_sessionmaker[AsyncSession]], Awaitable[object]]
) -> Path:
    """A copy of the migrated template with ``seed(sessions)``'s rows in it."""
    path = folder / "panel.db"
    shutil.copyfile(migrated, path)

    async def run() -> None:
        engine = make_engine(sqlite_url(path))
        try:
            await seed(make_sessions(engine))
        finally:
            await engine.dispose()

    asyncio.run(run())
    return path


@pytest.fixture(scope="session")
def seeded_dispatch_database(seeded_database: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo users, the agencies, ``agency`` in Damkar, ``agency2`` in PSC 119 and a second
    dispatcher; made once, each test copies it."""

    async def seed(sessions: async_sessionmaker[AsyncSession]) -> None:
        await seed_agencies(sessions)
        await seed_agency_member(sessions, "agency", "damkar")
        for username, role, interface, agency in DISPATCH_USERS:
            await add_user(
                sessions,
                username=username,
                role=role,
                password=f"{username}-demo-112",
                interface=interface,
                agency=agency,
            )

    return _seeded_copy(seeded_database, tmp_path_factory.mktemp("dispatch-template"), seed)


@pytest.fixture
def panel_database(seeded_database: Path) -> Path:
    """The seeded template the panel's tests start from (a directory's conftest may pick another)."""
    return seeded_database


@pytest.fixture
def panel_database_url(tmp_path: Path, panel_database: Path) -> str:
    """The panel's database: a copy of ``panel_database`` for this test alone."""
    database = tmp_path / "panel.db"
    shutil.copyfile(panel_database, database)
    return sqlite_url(database)


@pytest.fixture
def tile_url() -> str:
    """The map's tile server (none: text and a circle on a plain background); a test names one
    by parametrising this."""
    return ""


@pytest.fixture
def panel_settings(tile_url: str) -> PanelSettings:
    return PanelSettings(cookie_secret="test-secret", tile_url=tile_url)


@pytest.fixture
def fake_ami() -> Callable[[Hub], object] | None:
    """Makes the AMI link's stand-in from the hub; None keeps the real (never connected) link."""
    return None


@pytest.fixture
def panel_app() -> Callable[[Services], web.Application]:
    return create_app


@pytest.fixture
async def services(
    panel_database_url: str, panel_settings: PanelSettings, fake_ami: Callable[[Hub], object] | None
) -> AsyncIterator[Services]:
    settings = Settings(database_url=panel_database_url, panel=panel_settings)
    hub = Hub()
    link = None if fake_ami is None else (lambda _receive: fake_ami(hub))
    built = await build(settings, migrate=False, hub=hub, link=link)  # type: ignore[arg-type]
    await built.wrapup.start()  # after-call work runs beside the daemon, as serve() starts it
    yield built
    await built.wrapup.stop()
    await built.engine.dispose()


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
    services: Services,
    panel_app: Callable[[Services], web.Application],
) -> TestClient[Any, Any]:
    return await aiohttp_client(panel_app(services))


@pytest.fixture
async def other_client(
    client: TestClient[Any, Any],
) -> AsyncIterator[Callable[[], Awaitable[TestClient[Any, Any]]]]:
    """Another browser on the same server (its own cookie jar); closed at teardown."""
    made: list[TestClient[Any, Any]] = []

    async def make() -> TestClient[Any, Any]:
        second: TestClient[Any, Any] = TestClient(client.server)
        await second.start_server()
        made.append(second)
        return second

    yield make
    for second in made:
        await second.close()


# -- the browser tests (tests/e2e*): the whole stack running, and headless Chromium --------------


@pytest.fixture
async def stack(tmp_path: Path, tile_url: str, seeded_database: Path) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path / "t.db", tile_url=tile_url, seeded=seeded_database) as running:
        yield running


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    async with chromium() as browser:
        yield browser
