"""Fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

#: The run fails when a secret the tests use shows in any log line (tests/log_secrets.py).
pytest_plugins = ["log_secrets"]

ROOT = Path(__file__).resolve().parent.parent
#: The recorded Asterisk 22 traffic: ../shared/ami-transcripts beside the checkout.
TRANSCRIPTS = ROOT.parent / "shared" / "ami-transcripts"


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"the AMI transcripts are missing: expected {TRANSCRIPTS}")
    return TRANSCRIPTS


import asyncio  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import os  # noqa: E402

from ngcc112.daemon import CallDaemon  # noqa: E402
from ngcc112.hub import Hub  # noqa: E402
from ngcc112.settings import AmiSettings, Settings  # noqa: E402
from ngcc112.tickets.db import make_engine, make_sessions, upgrade  # noqa: E402
from ngcc112.tickets.store import TicketStore  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("NGCC112_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


async def _postgres_database() -> str | None:
    """A fresh PostgreSQL database for one test, or None when no server answers."""
    import uuid

    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"ngcc112_test_{uuid.uuid4().hex[:10]}"
    try:
        async with admin.connect() as conn:
            await asyncio.wait_for(conn.execute(text(f'CREATE DATABASE "{name}"')), 10)
    except Exception as exc:  # no server here: the caller skips with this reason
        await admin.dispose()
        print(f"PostgreSQL not available at {POSTGRES_ADMIN_URL}: {exc}")
        return None
    await admin.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


async def _drop_postgres_database(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path):
    """Each test using this runs against SQLite and against a real PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'ngcc112.db'}"
        await upgrade(url)
        yield url
        return
    url = await _postgres_database()
    if url is None:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}")
    await upgrade(url)
    try:
        yield url
    finally:
        await _drop_postgres_database(url)


@dataclasses.dataclass
class RunningDaemon:
    daemon: CallDaemon
    store: TicketStore
    hub: Hub
    link_task: asyncio.Task

    async def stop(self) -> None:
        await self.daemon.stop()
        self.link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.link_task


@pytest.fixture
async def start_daemon(database_url):
    """Start the call pipeline against an AMI at host:port; stopped at teardown."""
    engine = make_engine(database_url)
    running: list[RunningDaemon] = []

    async def start(port: int, **ami: object) -> RunningDaemon:
        hub = Hub()
        store = TicketStore(make_sessions(engine), hub.publish)
        defaults = dict(host="127.0.0.1", port=port, username="ngcc", secret="ngcc-secret",
                        reconnect_min=0.05, reconnect_max=0.5, ping_interval=5.0, action_timeout=2.0)
        settings = Settings(database_url=database_url, ami=AmiSettings(**{**defaults, **ami}))
        daemon = CallDaemon(settings, store, hub)
        await daemon.start()
        task = asyncio.create_task(daemon.run_link())
        handle = RunningDaemon(daemon, store, hub, task)
        running.append(handle)
        return handle

    yield start
    for handle in running:
        await handle.stop()
    await engine.dispose()


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory) -> Path:
    """A migrated SQLite database with the demo users, made once; each test copies it."""
    from ngcc112.tickets.users import seed_demo_users

    path = tmp_path_factory.mktemp("panel-template") / "panel.db"
    url = f"sqlite+aiosqlite:///{path}"

    async def prepare() -> None:
        await upgrade(url)
        engine = make_engine(url)
        await seed_demo_users(make_sessions(engine))
        await engine.dispose()

    asyncio.run(prepare())
    return path
