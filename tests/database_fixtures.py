"""A pytest plugin: a fresh, migrated database per test, copied from a template migrated once.

Running alembic for every test was the suite's biggest fixed cost. Instead, one template per
backend is migrated the first time a test asks for it, and each test gets its own copy:

- SQLite: the migrated file is copied into the test's ``tmp_path``;
- PostgreSQL: one template database per run and xdist worker is migrated, and each test gets
  ``CREATE DATABASE … TEMPLATE …``, dropped at its teardown; the template is dropped at the end.

``seeded_database_url`` is the same with the demo users already in (their argon2 hashes take
seconds, so they are seeded into a template once too); ``seeded_database`` is that SQLite file.

The migration tests (tests/test_*migration*.py) still run alembic themselves, up and down.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.users import seed_demo_users

POSTGRES_ADMIN_URL = os.environ.get("NGCC112_TEST_POSTGRES", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
#: Real seconds a CREATE DATABASE may wait for the template's last session to go.
TEMPLATE_BUSY_TIMEOUT = 10.0


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def postgres_url(name: str) -> str:
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def run_label() -> str:
    """Unique per run and per xdist worker: two runs (or two workers) never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{uuid.uuid4().hex[:8]}"


async def create_postgres_database(prefix: str = "ngcc112_test", template: str | None = None) -> str | None:
    """A new PostgreSQL database (a copy of ``template`` when given); its URL, or None when no
    server answers (the caller skips, with the reason printed)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    statement = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + TEMPLATE_BUSY_TIMEOUT
    try:
        async with admin.connect() as conn:
            while True:
                try:
                    await asyncio.wait_for(conn.execute(text(statement)), 10)
                    break
                except DBAPIError as exc:
                    # the template's last session may still be leaving: try again until it has gone
                    if "being accessed by other users" not in str(exc) or loop.time() > deadline:
                        raise
                    await asyncio.sleep(0.05)
    except Exception as exc:  # no server here: the caller skips with this reason
        print(f"PostgreSQL not available at {POSTGRES_ADMIN_URL}: {exc}")
        return None
    finally:
        await admin.dispose()
    return postgres_url(name)


async def drop_postgres_database(url: str) -> None:
    admin = create_async_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    finally:
        await admin.dispose()


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file alembic brought to head, once per run (per worker); tests copy it."""
    path = tmp_path_factory.mktemp("migrated") / "ngcc112.db"
    asyncio.run(upgrade(sqlite_url(path)))
    return path


@pytest.fixture(scope="session")
def migrated_postgres() -> Iterator[str | None]:
    """The name of a PostgreSQL database alembic brought to head, once per run (per worker),
    dropped at the end; None when no server answers."""

    async def prepare() -> str | None:
        url = await create_postgres_database(f"ngcc112_template_{run_label()}")
        if url is not None:
            await upgrade(url)
        return url

    url = asyncio.run(prepare())
    yield None if url is None else url.rsplit("/", 1)[1]
    if url is not None:
        asyncio.run(drop_postgres_database(url))


async def seed_demo(url: str) -> None:
    """The demo users in the database at ``url`` (their argon2 hashes take seconds: seed once)."""
    engine = make_engine(url)
    try:
        await seed_demo_users(make_sessions(engine))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def seeded_database(migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated SQLite file with the demo users, made once per run (per worker); tests copy it."""
    path = tmp_path_factory.mktemp("seeded") / "ngcc112.db"
    shutil.copyfile(migrated_sqlite, path)
    asyncio.run(seed_demo(sqlite_url(path)))
    return path


@pytest.fixture(scope="session")
def seeded_postgres(migrated_postgres: str | None) -> Iterator[str | None]:
    """The migrated PostgreSQL template with the demo users, once per run (per worker); None
    when no server answers."""
    if migrated_postgres is None:
        yield None
        return

    async def prepare() -> str | None:
        url = await create_postgres_database(f"ngcc112_seeded_{run_label()}", template=migrated_postgres)
        if url is not None:
            await seed_demo(url)
        return url

    url = asyncio.run(prepare())
    yield None if url is None else url.rsplit("/", 1)[1]
    if url is not None:
        asyncio.run(drop_postgres_database(url))


def _template(request: pytest.FixtureRequest, sqlite: str, postgresql: str) -> tuple[str, Path | str | None]:
    backend = str(request.param)
    return backend, request.getfixturevalue(sqlite if backend == "sqlite" else postgresql)


async def _fresh_copy(template: tuple[str, Path | str | None], tmp_path: Path) -> AsyncIterator[str]:
    """A database of its own for one test, copied from ``template``; dropped at teardown."""
    backend, source = template
    if backend == "sqlite":
        assert isinstance(source, Path)
        path = tmp_path / "ngcc112.db"
        shutil.copyfile(source, path)
        yield sqlite_url(path)
        return
    assert source is None or isinstance(source, str)
    url = None if source is None else await create_postgres_database(template=source)
    if url is None:
        pytest.skip(f"no PostgreSQL server answers at {POSTGRES_ADMIN_URL}")
    try:
        yield url
    finally:
        await drop_postgres_database(url)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def database_template(request: pytest.FixtureRequest) -> tuple[str, Path | str | None]:
    """(backend, its migrated template): only the backend a test runs on is ever migrated.
    A plain fixture, so that the templates are made outside any test's event loop."""
    return _template(request, "migrated_sqlite", "migrated_postgres")


@pytest.fixture
async def database_url(database_template: tuple[str, Path | str | None], tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs against SQLite and against a real PostgreSQL, on a fresh
    database at the migrations' head."""
    async for url in _fresh_copy(database_template, tmp_path):
        yield url


@pytest.fixture(params=BACKENDS)
def seeded_template(request: pytest.FixtureRequest) -> tuple[str, Path | str | None]:
    """(backend, its template with the demo users)."""
    return _template(request, "seeded_database", "seeded_postgres")


@pytest.fixture
async def seeded_database_url(seeded_template: tuple[str, Path | str | None], tmp_path: Path) -> AsyncIterator[str]:
    """As ``database_url``, with the demo users already in."""
    async for url in _fresh_copy(seeded_template, tmp_path):
        yield url
