"""A site's leadership: one PostgreSQL session advisory lock, held on a connection of its own.

Exactly one node per site holds ``pg_try_advisory_lock(lock_key(site))``. PostgreSQL
drops it the moment the holder's session ends — the process was killed, its connection
was cut, an administrator terminated the backend — and a standby's next try takes it.
No home-made consensus: PostgreSQL decides who leads.

The holder cannot see its session from the inside, so it probes: a query on the lock's
connection every ``probe`` seconds. The connection closing, a probe failing, or a probe
not answered within ``lease`` seconds all count as the lock lost; the caller must stop
acting at once (:meth:`LeaderLock.held` returns), since PostgreSQL may already have
given the lock to another node.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Awaitable, Callable

import asyncpg  # type: ignore[import-untyped]  # ships no type information
import structlog

log = structlog.get_logger(__name__)

#: Seconds between a standby's tries for the lock (a takeover starts within this of the leader's end).
RETRY = 0.5
#: Seconds between the holder's probes of its connection.
PROBE = 0.5
#: Seconds a probe (or a connect, or a try) may take before the lock counts as lost (or the try failed).
LEASE = 2.0
#: What "the database is away or the connection broke" looks like from asyncpg.
FAILURES = (OSError, ConnectionError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)

Connect = Callable[[], Awaitable[asyncpg.Connection]]


def lock_key(site: str) -> int:
    """The advisory lock's key for ``site``: a stable signed 64-bit number, the same on every node."""
    digest = hashlib.blake2b(f"ngcc112 leader of site {site}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LeaderLock:
    """Take (:meth:`acquire`), watch (:meth:`held`) and give back (:meth:`release`) one site's lock."""

    def __init__(
        self,
        dsn: str,
        site: str,
        *,
        connect: Connect | None = None,
        retry: float = RETRY,
        probe: float = PROBE,
        lease: float = LEASE,
    ) -> None:
        self.site = site
        self.key = lock_key(site)
        self._connect: Connect = connect or (lambda: asyncpg.connect(dsn, timeout=lease))
        self.retry = retry
        self.probe = probe
        self.lease = lease
        self._conn: asyncpg.Connection | None = None
        self._closed = asyncio.Event()
        self.log = log.bind(site=site)

    @property
    def holding(self) -> bool:
        return self._conn is not None and not self._closed.is_set()

    async def acquire(self) -> None:
        """Return once this node holds the lock; tries every ``retry`` seconds, through database outages."""
        while not await self.answer():
            await asyncio.sleep(self.retry)

    async def answer(self) -> bool:
        """Try until PostgreSQL answers: True when this node now holds the lock, False when another does.

        While the database does not answer it tries again every ``retry`` seconds (logging
        each new error once).
        """
        last_error = ""
        while True:
            try:
                return await self._try()
            except FAILURES as exc:
                text = f"{type(exc).__name__}: {exc}".strip(": ")
                if text != last_error:
                    self.log.warning("cluster.lock_try_failed", error=text[:200])
                last_error = text
                await self._drop()
            await asyncio.sleep(self.retry)

    async def _try(self) -> bool:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncio.wait_for(self._connect(), self.lease)
        conn: asyncpg.Connection = self._conn
        if not await asyncio.wait_for(conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key), self.lease):
            return False
        self._closed.clear()
        conn.add_termination_listener(lambda _conn: self._closed.set())
        return True

    async def held(self) -> str:
        """Wait while the lock is held; return why it no longer counts as held."""
        conn = self._conn
        if conn is None:
            return "the lock was never taken"
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._closed.wait(), self.probe)
            if self._closed.is_set() or conn.is_closed():
                return "the lock's database connection closed"
            try:
                await asyncio.wait_for(conn.fetchval("SELECT 1"), self.lease)
            except asyncio.TimeoutError:
                return f"the lock's database connection did not answer within {self.lease:g} s"
            except FAILURES as exc:
                return f"the lock's database connection failed: {type(exc).__name__}: {exc}"[:200]

    async def release(self) -> None:
        """Give the lock back (closing the session releases it); idempotent."""
        await self._drop()

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._closed.set()
        if conn is not None and not conn.is_closed():
            try:
                await asyncio.wait_for(conn.close(), self.lease)
            except FAILURES:
                conn.terminate()
