"""A database outage loses nothing, even when the daemon dies in the middle of it.

The daemon is fed a real Asterisk 22 recording while its database refuses every
connection; it is then dropped without a goodbye (its tasks cancelled, nothing
flushed, the journal never closed: what a SIGKILL leaves). A new daemon on a
working database writes, before anything new, every event the journal kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from sqlalchemy.exc import OperationalError

from ngcc112.ami.message import parse_frame
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.sim.replay import Transcript
from ngcc112.settings import Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore

RECORDINGS = Path(__file__).parent / "data" / "transcripts"


class RefusedSessions:
    """A session factory whose database refuses every connection (PostgreSQL stopped)."""

    def _refuse(self, *args, **kwargs):
        raise OperationalError("BEGIN", {}, ConnectionRefusedError(111, "Connection refused"))

    __call__ = begin = _refuse


refused_sessions = RefusedSessions()


async def wait_until(condition, timeout: float = 30.0) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_events_kept_through_an_outage_and_a_kill_are_written_by_the_next_daemon(database_url, tmp_path):
    journal = tmp_path / "events.db"
    settings = Settings(database_url=database_url, journal_path=str(journal))
    frames = [parse_frame(f.raw.decode()) for f in Transcript.load(RECORDINGS / "r_answered").events()]
    linkedids = {m.get("Linkedid") for m in frames if m is not None and m.name == "Newchannel"
                 and m.get("Context") == "from-pstn"}
    assert len(linkedids) == 1

    # 1. the database is away: every event goes to the journal, none to the database
    hub = Hub()
    first = CallDaemon(settings, TicketStore(refused_sessions, hub.publish), hub)
    await first.start()
    for message in frames:
        if message is not None:
            first._receive(message)
    await wait_until(lambda: first.stats.db_failures > 0 and first._inbox.empty() and first._outbox.empty())
    assert first.journal is not None and first.journal.size() > 0
    kept = first.journal.size()
    # 2. killed: no stop(), no flush, the journal left as it is on disk
    for task in first._tasks:
        task.cancel()
    for task in first._tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert journal.exists()

    # 3. the next start, the database back: the journal is written first, then emptied
    engine = make_engine(database_url)
    try:
        hub = Hub()
        store = TicketStore(make_sessions(engine), hub.publish)
        second = CallDaemon(settings, store, hub)
        await second.start()
        await asyncio.wait_for(second.drained(), 30)
        tickets = {t.linkedid: t for t in await store.recent(10)}
        assert set(tickets) == linkedids
        ticket = tickets[linkedids.pop()]
        assert ticket.caller_number == "5550101" and ticket.caller_name == "Anrufer Eins"
        assert ticket.operator_interface == "PJSIP/op1"
        assert ticket.answered_at is not None and ticket.ended_at is not None
        assert second.journal is not None and second.journal.size() == 0
        assert second.stats.tickets_written >= kept
        await second.stop()
        assert not journal.exists(), "an emptied journal leaves no file"
    finally:
        await engine.dispose()


async def test_a_journal_that_cannot_be_used_stops_the_start_with_its_path(tmp_path):
    import pytest

    from ngcc112.tickets.journal import JournalError

    (tmp_path / "file").write_text("")
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}",
                        journal_path=str(tmp_path / "file" / "events.db"))
    hub = Hub()
    daemon = CallDaemon(settings, TicketStore(refused_sessions, hub.publish), hub)
    with pytest.raises(JournalError, match="events.db"):
        await daemon.start()
