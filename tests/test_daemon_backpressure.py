"""A full outbox spills call events to the journal: nothing dropped, the link never blocked, order kept."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy.exc import OperationalError

from ngcc112.ami.events import CallEvent, CallsResynced
from ngcc112.ami.message import parse_frame
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.sim.replay import Transcript
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore

RECORDINGS = Path(__file__).parent / "data" / "transcripts"


class AwayStore(TicketStore):
    """A ticket store whose database refuses while ``away``; what it wrote, in order."""

    away = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.written: list[CallEvent | CallsResynced] = []
        self.back = asyncio.Event()

    async def record_many(self, events):
        if self.away:
            raise OperationalError("BEGIN", {}, ConnectionRefusedError(111, "Connection refused"))
        changes = await super().record_many(events)
        self.written.extend(events)
        return changes

    async def reconcile(self, resynced, prefix=""):
        if self.away:
            raise OperationalError("BEGIN", {}, ConnectionRefusedError(111, "Connection refused"))
        self.written.append(resynced)
        return await super().reconcile(resynced, prefix)


async def wait_until(condition, timeout: float = 30.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_a_full_outbox_spills_to_the_journal_and_is_written_from_there_in_order(database_url, tmp_path):
    settings = Settings(database_url=database_url, journal_path=str(tmp_path / "events.db"))
    frames = []
    for name in ("r_answered", "r_abandon_in_queue"):
        frames += [parse_frame(f.raw.decode()) for f in Transcript.load(RECORDINGS / name).events()]
    engine = make_engine(database_url)
    try:
        hub = Hub(maxsize=100_000)
        published = hub.subscribe()
        store = AwayStore(make_sessions(engine), hub.publish)
        daemon = CallDaemon(settings, store, hub, outbox_max=2)
        await daemon.start()
        for message in frames:
            if message is not None:
                daemon._receive(message)  # the link's callback: it never waits
        await wait_until(lambda: daemon.stats.db_failures > 0 and daemon._inbox.empty())
        assert daemon._spill is not None and daemon._spill.active and daemon._spill.spilled > 0
        assert daemon._outbox.qsize() <= 2
        assert not daemon.is_drained
        store.away = False  # the database is back
        await asyncio.wait_for(daemon.drained(), 30)
        expected = []
        while not published.queue.empty():
            item = published.queue.get_nowait()
            if isinstance(item, (CallEvent, CallsResynced)):
                expected.append(item)
        assert len(expected) > 2 * 2
        assert store.written == expected, "every call event written once, in the tracker's order"
        assert not daemon._spill.active and daemon.journal is not None and daemon.journal.size() == 0
        # the spill is over: new events use the outbox again
        assert daemon.is_drained
        await daemon.stop()
    finally:
        await engine.dispose()
