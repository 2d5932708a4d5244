"""A leader whose lock connection is cut stops acting on Asterisk at once and stops (to restart a standby)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from database_fixtures import _fresh_copy

from ngcc112.ami import actions
from ngcc112.ami.link import AmiNotConnected
from ngcc112.app import FatalError, serve
from ngcc112.cluster.fanout import asyncpg_dsn
from ngcc112.cluster.lock import lock_key
from ngcc112.services import Services
from ngcc112.settings import AmiSettings, ClusterSettings, PanelSettings, Settings
from ngcc112.sim import AmiSimulator
from ngcc112.sim.config import SimulatorConfig

pytestmark = pytest.mark.postgres
#: Only a bound so a hang fails instead of blocking; never a timed assertion.
PATIENCE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def url(migrated_postgres: str | None, tmp_path: Path) -> AsyncIterator[str]:
    async for fresh in _fresh_copy(("postgresql", migrated_postgres), tmp_path):
        yield fresh


async def terminate_lock_holder(url: str, site: str) -> int:
    key = lock_key(site)
    conn = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid = $1 AND objid = $2 AND objsubid = 1",
                (key >> 32) & 0xFFFFFFFF,
                key & 0xFFFFFFFF,
            )
        )
    finally:
        await conn.close()


async def test_a_leader_that_loses_its_lock_is_fenced_at_once_and_stops(url: str, tmp_path: Path) -> None:
    sim = AmiSimulator(SimulatorConfig())
    await sim.start()
    settings = Settings(
        database_url=url,
        journal_path=str(tmp_path / "journal.db"),
        ami=AmiSettings(port=sim.port, reconnect_min=0.05),
        panel=PanelSettings(port=free_port(), cookie_secret="test-secret"),
        cluster=ClusterSettings(enabled=True, node_name="node-a"),
    )
    ready: asyncio.Future[Services] = asyncio.get_running_loop().create_future()

    async def on_ready(services: Services) -> None:
        ready.set_result(services)

    running = asyncio.create_task(serve(settings, on_ready=on_ready, say=lambda line: None))
    try:
        async with asyncio.timeout(PATIENCE):
            services = await asyncio.shield(ready)
        link = services.daemon.link
        assert link.fenced is None and services.leadership is not None
        logins = sum(1 for session in sim.sessions if session.authenticated)

        assert await terminate_lock_holder(url, "main") == 1

        with pytest.raises(FatalError, match="lost the leadership"):
            async with asyncio.timeout(PATIENCE):
                await running
        assert link.fenced is not None and "lost the leadership" in link.fenced
        with pytest.raises(AmiNotConnected):  # nothing leaves for Asterisk from this node any more
            await link.send(actions.queue_pause("PJSIP/op1", True))
        assert sum(1 for session in sim.sessions if session.authenticated) <= logins  # and it did not log in again
    finally:
        running.cancel()
        await sim.stop()
