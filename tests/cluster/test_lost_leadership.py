"""A leader whose lock is in doubt stops acting on Asterisk at once; it leads on if the lock is its again,
and stops (to restart as a standby) if another node holds it."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
import structlog
from database_fixtures import _fresh_copy

from ngcc112.ami import actions
from ngcc112.app import serve
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


async def test_a_leader_whose_lock_connection_is_cut_is_fenced_keeps_listening_and_leads_again(
    url: str, tmp_path: Path
) -> None:
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
        link, leadership = services.daemon.link, services.leadership
        assert link.fenced is None and leadership is not None
        async with asyncio.timeout(PATIENCE):
            while not link.connected:
                await asyncio.sleep(0.01)
        session = link.status.session

        with structlog.testing.capture_logs() as logged:
            assert await terminate_lock_holder(url, "main") == 1
            async with asyncio.timeout(PATIENCE):  # nobody else wants the site: the lock is its again
                while not any(entry["event"] == "cluster.leader_again" for entry in logged):
                    await asyncio.sleep(0.01)
        events = [entry["event"] for entry in logged]
        fence = next(entry for entry in logged if entry["event"] == "ami.fenced")
        # fenced first (before any await that could let an action out), regained after
        assert events.index("ami.fenced") < events.index("cluster.leader_again")
        assert "lost the leadership" in fence["reason"] and fence["listening"] is True
        assert link.fenced is None
        assert leadership.role.value == "leader" and not leadership.lost.done()
        assert link.connected and link.status.session == session  # it never stopped listening
        await link.send(actions.ping())  # and acts again
        assert not running.done()
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await running
        await sim.stop()
