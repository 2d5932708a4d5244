"""The ticket store's batched write: one transaction and a few bulk statements per batch, the same
tickets, audit rows and published changes as event by event, and only the columns it changed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from ngcc112.ami.events import CallArrived, CallEnded, CallEvent, CallQueued, CallVariables
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.models import AuditEntry, Ticket
from ngcc112.tickets.store import TicketChanged, TicketStore

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=timezone.utc)


def call(call_id: str, number: str, start: datetime) -> list[CallEvent]:
    return [
        CallArrived(call_id=call_id, at=start, channel=f"PJSIP/{number}", uniqueid=call_id,
                    caller_number=number, caller_name="Budi", exten="112"),
        CallVariables(call_id=call_id, at=start + timedelta(seconds=1), variables={"NGCC_CID_PRES": "allowed"}),
        CallVariables(call_id=call_id, at=start + timedelta(seconds=2), variables={"NGCC_PROMPT": "done"}),
        CallQueued(call_id=call_id, at=start + timedelta(seconds=3), queue="q", position=1, channel=f"PJSIP/{number}"),
        CallEnded(call_id=call_id, at=start + timedelta(seconds=9), cause=16, cause_text="Normal Clearing"),
    ]


def interleaved(prefix: str) -> list[CallEvent]:
    first, second = call(f"{prefix}.1", "081111", T0), call(f"{prefix}.2", "082222", T0 + timedelta(milliseconds=500))
    return [event for pair in zip(first, second, strict=True) for event in pair]


async def trail(database_url: str, prefix: str, batches: list[list[CallEvent]]) -> tuple[list, list, list]:
    """The calls' tickets, audit rows and published changes, their Linkedids and ids as the call's index."""
    engine = make_engine(database_url)
    published: list[TicketChanged] = []
    store = TicketStore(make_sessions(engine), published.append)
    for batch in batches:
        await store.record_many(batch)
    async with make_sessions(engine)() as session:
        rows = (await session.scalars(select(Ticket).where(Ticket.linkedid.startswith(f"{prefix}.")))).all()
        index = {t.id: t.linkedid.split(".")[1] for t in rows}
        tickets = sorted(
            (index[t.id], t.state, t.caller_number, t.caller_presentation, t.variables, t.queue, t.queued_at,
             t.ended_at, t.abandoned, t.abandoned_at, t.hangup_cause)
            for t in rows
        )
        audit = [
            (index[a.ticket_id], a.action, a.at, a.from_state, a.to_state, a.changes)
            for a in await session.scalars(
                select(AuditEntry).where(AuditEntry.ticket_id.in_(index)).order_by(AuditEntry.id)
            )
        ]
    await engine.dispose()
    changes = [(index[c.ticket_id], c.linkedid.split(".")[1], c.action, c.at, c.state, c.changes, c.opened)
               for c in published]
    return tickets, audit, changes


async def test_one_batch_writes_what_the_events_one_by_one_write(database_url):
    one_by_one = await trail(database_url, "8", [[event] for event in interleaved("8")])
    events = interleaved("9")
    batched = await trail(database_url, "9", [events])
    assert batched == one_by_one
    tickets, audit, changes = batched
    assert [t[0] for t in tickets] == ["1", "2"] and all(t[8] for t in tickets)  # both abandoned
    assert len(audit) == len(events) == len(changes)
    assert [c[6] for c in changes].count(True) == 2 and changes[0][6] and changes[1][6]
    assert {a[0] for a in audit} == {c[0] for c in changes}


async def test_a_batch_sets_only_the_columns_it_changed(database_url):
    """Another writer's column (triage's score, an operator's note) written between two batches stays."""
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    store = TicketStore(sessions)
    first, rest = call("9.3", "083333", T0)[:2], call("9.3", "083333", T0)[2:]
    (opened, _) = await store.record_many(first)
    async with sessions.begin() as session:
        await session.execute(update(Ticket).where(Ticket.id == opened.ticket_id).values(ghost_score=0.75, note="x"))
    await store.record_many(rest)
    async with sessions() as session:
        ticket = await session.get(Ticket, opened.ticket_id)
        assert ticket is not None
        assert (ticket.ghost_score, ticket.note, ticket.queue, ticket.abandoned) == (0.75, "x", "q", True)
        assert ticket.variables == {"NGCC_CID_PRES": "allowed", "NGCC_PROMPT": "done"}
    await engine.dispose()
