"""The panel while the database is away: a clear 503, never a bare 500 or a hang.

Calls do not wait for the panel or the database: Asterisk queues them, the
daemon keeps following them and keeps every event it could not write (written
in order when the database is back). So a request that needs the database gets
one sentence that says exactly that, as JSON (``code: database_unavailable``)
or as a small page, with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

MESSAGE = "Database unavailable — calls are still recorded and will be written when it is back."

#: Exceptions that mean "the database did not answer", whatever the driver.
DATABASE_AWAY: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    ConnectionError,
    asyncio.TimeoutError,
    TimeoutError,
)


def is_database_away(exc: BaseException) -> bool:
    if isinstance(exc, DATABASE_AWAY):
        return True
    # asyncpg's own errors arrive wrapped in DBAPIError; a lost connection is one of them
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
