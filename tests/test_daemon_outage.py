"""The daemon and a database that is away: refused at start, silent mid-statement."""

from __future__ import annotations

import asyncio
import socket

from ngcc112 import daemon as daemon_module
from ngcc112.app import build
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore
from test_daemon_journal import RECORDINGS, wait_until

from ngcc112.ami.message import parse_frame
from ngcc112.sim.replay import Transcript


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens there once closed


async def test_the_daemon_starts_while_the_database_is_away(tmp_path):
    """Calls must be followed from the first second: a refused database is no reason to exit."""
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/ngcc112"
    services = await build(Settings(database_url=url, journal_path=str(tmp_path / "events.db")))
    try:
        assert not await services.store.answers(timeout=1)
        await services.daemon.start()
        assert services.daemon.journal is not None
    finally:
        await services.daemon.stop(flush_timeout=0.1)
        await services.engine.dispose()


class SilentOnce:
    """A store whose first write never returns (the server went silent mid-statement)."""

    def __init__(self, store: TicketStore) -> None:
        self.store = store
        self.hung = 0

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def record_many(self, events):
        if self.hung == 0:
            self.hung += 1
            await asyncio.Event().wait()
        return await self.store.record_many(events)


async def test_a_write_that_never_returns_is_given_up_and_retried(database_url, tmp_path, monkeypatch):
    monkeypatch.setattr(daemon_module, "WRITE_TIMEOUT", 0.3)
    engine = make_engine(database_url)
    try:
        hub = Hub()
        store = SilentOnce(TicketStore(make_sessions(engine), hub.publish))
        daemon = CallDaemon(Settings(database_url=database_url, journal_path=str(tmp_path / "j.db")),
                            store, hub)  # type: ignore[arg-type]
        await daemon.start()
        for frame in Transcript.load(RECORDINGS / "r_hangup_in_prompt").events():
            message = parse_frame(frame.raw.decode())
            if message is not None:
                daemon._receive(message)
        await wait_until(lambda: store.hung == 1)
        await asyncio.wait_for(daemon.drained(), 30)
        assert daemon.stats.db_failures >= 1
        tickets = await store.store.recent(5)
        assert len(tickets) == 1 and tickets[0].caller_number == "5551301"
        await daemon.stop()
    finally:
        await engine.dispose()
