"""The ticket store: idempotent on Linkedid, audited, and patient with a database that went away."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

from sqlalchemy.exc import OperationalError
from replay_helpers import drive_replay

from ngcc112.ami.events import (
    CallArrived,
    CallConnected,
    CallEnded,
    CallQueued,
    CallsResynced,
)
from ngcc112.clock import VirtualClock
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.sim.replay import AnswerBook, Transcript, TranscriptServer
from ngcc112.settings import AmiSettings, Settings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketChanged, TicketStore

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


def arrived(call_id: str = "1.1", at: datetime = T0) -> CallArrived:
    return CallArrived(call_id=call_id, at=at, channel="PJSIP/caller1-0001", uniqueid=call_id,
                       caller_number="081234", caller_name="Budi", exten="112")


async def test_a_replayed_call_never_makes_a_second_ticket_or_audit_row(database_url):
    engine = make_engine(database_url)
    published: list[TicketChanged] = []
    store = TicketStore(make_sessions(engine), published.append)
    events = [arrived(), CallQueued(call_id="1.1", at=T0 + timedelta(seconds=1), queue="q", position=1,
                                    channel="PJSIP/caller1-0001"),
              CallConnected(call_id="1.1", at=T0 + timedelta(seconds=5), queue="q", interface="PJSIP/op1",
                            member_name="op1", waited_seconds=4.0),
              CallEnded(call_id="1.1", at=T0 + timedelta(seconds=60), cause=16, cause_text="Normal Clearing")]
    for event in events + events:
        await store.record(event)
    (ticket,) = await store.recent()
    audit = await store.audit(ticket.id)
    assert [a.action for a in audit] == ["call_arrived", "call_queued", "call_connected", "call_ended"]
    assert [(a.from_state, a.to_state) for a in audit][2] == ("new", "in_call")
    assert ticket.state == "in_call" and not ticket.abandoned
    assert len(published) == 4 and published[0].opened
    await engine.dispose()


async def test_an_event_for_an_unknown_call_opens_its_ticket_all_the_same(database_url):
    engine = make_engine(database_url)
    store = TicketStore(make_sessions(engine))
    await store.record(CallEnded(call_id="2.1", at=T0, cause=0, cause_text="Unknown"))
    (ticket,) = await store.recent()
    assert ticket.linkedid == "2.1" and ticket.abandoned and ticket.ended_at == T0
    await engine.dispose()


async def test_reconcile_ends_tickets_whose_calls_are_gone(database_url):
    engine = make_engine(database_url)
    store = TicketStore(make_sessions(engine))
    await store.record(arrived("3.1"))
    await store.record(arrived("3.2"))
    await store.reconcile(CallsResynced(at=T0 + timedelta(minutes=1), live_call_ids=frozenset({"3.2"})))
    tickets = {t.linkedid: t for t in await store.recent()}
    assert tickets["3.1"].ended_unobserved and tickets["3.1"].abandoned
    assert tickets["3.2"].ended_at is None
    await engine.dispose()


class FlakyStore(TicketStore):
    """A store whose database is away for the first ``outage`` writes."""

    def __init__(self, *args, outage: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.outage = outage

    async def record_many(self, events):
        if self.outage > 0:
            self.outage -= 1
            raise OperationalError("INSERT", {}, ConnectionRefusedError("database is away"))
        return await super().record_many(events)


async def test_a_database_outage_delays_tickets_but_loses_nothing(database_url, transcripts_dir):
    engine = make_engine(database_url)
    store = FlakyStore(make_sessions(engine), outage=3)
    # the recording paced on virtual time: it moves on only once the daemon has written
    # (or, while the database is away, is still retrying) everything sent so far
    clock = VirtualClock()
    server = TranscriptServer([Transcript.load(transcripts_dir / "i_ring_no_answer")],
                              AnswerBook(transcripts_dir), clock=clock)
    await server.start()
    hub = Hub()
    resyncs = hub.subscribe()
    daemon = CallDaemon(Settings(database_url=database_url, ami=AmiSettings(port=server.port)), store, hub)
    await daemon.start()
    link = asyncio.create_task(daemon.run_link())
    # generous real-time bound: the retries back off in real time (0.2 + 0.4 + 0.8 s)
    await drive_replay(server, daemon, resyncs, clock, timeout=60.0)
    (ticket,) = await store.recent()
    assert ticket.answered_at and ticket.ended_at and ticket.operator_interface == "PJSIP/op2"
    assert daemon.stats.db_failures == 3 and "database is away" in daemon.stats.last_db_error
    await daemon.stop()
    link.cancel()
    await server.stop()
    await engine.dispose()
