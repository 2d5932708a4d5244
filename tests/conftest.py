"""Fixtures shared by every test module."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

import pytest

from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import AmiSettings, Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore

pytest_plugins = [
    # the run fails when a secret the tests use shows in any log line
    "log_secrets",
    # database_url: SQLite and PostgreSQL, each test on a copy of a template migrated once
    "database_fixtures",
    # services, client, other_client: the panel on a seeded SQLite copy, for every panel directory
    "panel_fixtures",
]

ROOT = Path(__file__).resolve().parent.parent
#: The recorded Asterisk 22 traffic: ../shared/ami-transcripts beside the checkout.
TRANSCRIPTS = ROOT.parent / "shared" / "ami-transcripts"


@pytest.fixture(scope="session")
def transcripts_dir() -> Path:
    if not TRANSCRIPTS.is_dir():
        pytest.fail(f"the AMI transcripts are missing: expected {TRANSCRIPTS}")
    return TRANSCRIPTS


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
        defaults = dict(
            host="127.0.0.1",
            port=port,
            username="ngcc",
            secret="ngcc-secret",
            reconnect_min=0.05,
            reconnect_max=0.5,
            ping_interval=5.0,
            action_timeout=2.0,
        )
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
