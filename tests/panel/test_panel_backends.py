"""The intake use cases and users on SQLite and on PostgreSQL: one transaction, no double apply."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest

from ngcc112.ami.events import CallArrived, CallConnected
from ngcc112.hub import Hub
from ngcc112.tickets import intake
from ngcc112.tickets import intake_form
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketChanged, TicketStore
from ngcc112.tickets.users import UserError, add_user

NORMAL = intake_form.IntakeData(verdict="normal", category="medical", address="Jl. Sudirman 5",
                           description="Pingsan di halte", callback_number="081200001111")


@pytest.fixture
async def backend(database_url):
    engine = make_engine(database_url)
    hub = Hub()
    sessions = make_sessions(engine)
    yield sessions, hub, TicketStore(sessions, hub.publish)
    await engine.dispose()


async def _answered(store: TicketStore, call_id: str, interface: str = "PJSIP/op7") -> int:
    at = datetime.now(timezone.utc)
    await store.record(CallArrived(call_id=call_id, at=at, channel="PJSIP/caller1-1", uniqueid=call_id,
                                   caller_number="081200001111", caller_name="Tono", exten="112"))
    await store.record(CallConnected(call_id=call_id, at=at, queue="q", interface=interface,
                                     member_name="op7", waited_seconds=2.0))
    return (await store.by_linkedid(call_id)).id


async def test_complete_intake_writes_state_fields_and_audit_together(backend):
    sessions, hub, store = backend
    operator = await add_user(sessions, username="op7", role="operator", password="long enough",
                              interface="PJSIP/op7")
    with pytest.raises(UserError):
        await add_user(sessions, username="op8", role="operator", password="long enough",
                       interface="PJSIP/op7")
    ticket_id = await _answered(store, "b.1")
    subscription = hub.subscribe()
    changed = await intake.complete_intake(sessions, hub.publish, ticket_id, operator, NORMAL)
    assert [(c.action, c.state) for c in changed] == [("classify", "classified"), ("escalate", "escalated")]
    published = [subscription.queue.get_nowait() for _ in range(subscription.queue.qsize())]
    assert [p.action for p in published if isinstance(p, TicketChanged)] == ["classify", "escalate"]
    ticket = await store.get(ticket_id)
    assert (ticket.state, ticket.category, ticket.intake["address"]) == ("escalated", "medical",
                                                                          "Jl. Sudirman 5")
    rows = [(a.actor, a.action, a.from_state, a.to_state) for a in await store.audit(ticket_id)][-2:]
    assert rows == [("op7", "classify", "in_call", "classified"), ("op7", "escalate", "classified", "escalated")]


async def test_a_failing_second_step_leaves_nothing_behind(backend):
    sessions, hub, store = backend
    operator = await add_user(sessions, username="op7", role="operator", password="long enough",
                              interface="PJSIP/op7")
    ticket_id = await _answered(store, "b.2")
    before = len(await store.audit(ticket_id))
    no_note = intake_form.IntakeData(verdict="prank", caller_name="X")  # bypasses the form's validation
    with pytest.raises(intake_form.IntakeInvalid):
        await intake.complete_intake(sessions, hub.publish, ticket_id, operator, no_note)
    ticket = await store.get(ticket_id)
    assert (ticket.state, ticket.verdict, ticket.intake) == ("in_call", None, {})
    assert len(await store.audit(ticket_id)) == before


async def test_a_double_submit_is_applied_once(backend):
    sessions, hub, store = backend
    operator = await add_user(sessions, username="op7", role="operator", password="long enough",
                              interface="PJSIP/op7")
    ticket_id = await _answered(store, "b.3")
    results = await asyncio.gather(
        *(intake.complete_intake(sessions, hub.publish, ticket_id, operator, NORMAL) for _ in range(2)),
        return_exceptions=True)
    refused = [r for r in results if isinstance(r, intake.IntakeRefused)]
    assert len(refused) == 1 and refused[0].kind == "conflict", results
    actions = [a.action for a in await store.audit(ticket_id) if a.actor == "op7"]
    assert actions == ["classify", "escalate"]
