"""The site's leadership is one PostgreSQL advisory lock: one holder per site, handed over when its session ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from database_fixtures import _fresh_copy

from ngcc112.cluster.fanout import asyncpg_dsn
from ngcc112.cluster.lock import LeaderLock, lock_key

pytestmark = pytest.mark.postgres
#: Only a bound so a broken lock fails instead of hanging; never a timed assertion.
PATIENCE = 20.0


@pytest.fixture
async def dsn(migrated_postgres: str | None, tmp_path: Path) -> AsyncIterator[str]:
    async for url in _fresh_copy(("postgresql", migrated_postgres), tmp_path):
        yield asyncpg_dsn(url)


def test_each_site_has_its_own_stable_key() -> None:
    assert lock_key("main") == lock_key("main")
    assert lock_key("main") != lock_key("kota-b")
    assert -(2**63) <= lock_key("main") < 2**63


async def test_one_node_holds_a_site_and_the_next_gets_it_when_it_lets_go(dsn: str) -> None:
    first, second = LeaderLock(dsn, "main", retry=0.05), LeaderLock(dsn, "main", retry=0.05)
    async with asyncio.timeout(PATIENCE):
        await first.acquire()
    waiting = asyncio.create_task(second.acquire())
    try:
        assert not await _try_once(dsn, "main")  # held: nobody else gets it
        assert not waiting.done()
        await first.release()
        async with asyncio.timeout(PATIENCE):
            await waiting
        assert second.holding and not first.holding
    finally:
        waiting.cancel()
        await second.release()
        await first.release()


async def test_two_sites_lead_independently(dsn: str) -> None:
    main, other = LeaderLock(dsn, "main"), LeaderLock(dsn, "kota-b")
    try:
        async with asyncio.timeout(PATIENCE):
            await main.acquire()
            await other.acquire()
        assert main.holding and other.holding
    finally:
        await main.release()
        await other.release()


async def test_a_terminated_session_is_a_lost_lock_and_the_standby_takes_it(dsn: str) -> None:
    leader, standby = LeaderLock(dsn, "main", probe=0.05), LeaderLock(dsn, "main", retry=0.05)
    async with asyncio.timeout(PATIENCE):
        await leader.acquire()
    watching = asyncio.create_task(leader.held())
    taking = asyncio.create_task(standby.acquire())
    try:
        await _terminate_holder(dsn, "main")
        async with asyncio.timeout(PATIENCE):
            reason = await watching
            await taking
        assert "connection" in reason
        assert standby.holding
    finally:
        watching.cancel()
        taking.cancel()
        await standby.release()
        await leader.release()


async def test_a_probe_that_does_not_answer_counts_as_lost(dsn: str) -> None:
    """A holder whose connection hangs cannot know PostgreSQL still sees it: it assumes the worst."""
    lock = LeaderLock(dsn, "main", probe=0.05, lease=0.2)
    async with asyncio.timeout(PATIENCE):
        await lock.acquire()
    conn = lock._conn
    assert conn is not None
    blocker = asyncio.create_task(conn.execute("SELECT pg_sleep(30)"))  # the probe queues behind it
    try:
        async with asyncio.timeout(PATIENCE):
            reason = await lock.held()
        assert "did not answer" in reason or "failed" in reason
    finally:
        blocker.cancel()
        conn.terminate()
        await lock.release()


async def test_a_database_away_at_first_is_tried_again(dsn: str) -> None:
    tries = 0

    async def flaky() -> asyncpg.Connection:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise ConnectionRefusedError("refused")
        return await asyncpg.connect(dsn)

    lock = LeaderLock(dsn, "main", connect=flaky, retry=0.01)
    try:
        async with asyncio.timeout(PATIENCE):
            await lock.acquire()
        assert tries == 3 and lock.holding
    finally:
        await lock.release()


async def _try_once(dsn: str, site: str) -> bool:
    conn = await asyncpg.connect(dsn)
    try:
        got = await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_key(site))
        if got:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_key(site))
        return bool(got)
    finally:
        await conn.close()


async def _terminate_holder(dsn: str, site: str) -> None:
    key = lock_key(site)
    conn = await asyncpg.connect(dsn)
    try:
        # a bigint key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits), per database
        terminated = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid = $1 AND objid = $2 AND objsubid = 1",
            (key >> 32) & 0xFFFFFFFF,
            key & 0xFFFFFFFF,
        )
        assert terminated == 1
    finally:
        await conn.close()
