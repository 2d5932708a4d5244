"""A caller still waiting for an operator: nobody who has not heard them decides their ticket.

Issue 11, item 2: any operator could close a waiting caller's ticket (new → classified →
closed) because an unanswered ticket has no operator yet.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from panel_helpers import QUEUE, login

from ngcc112.ami.events import CallArrived, CallConnected, CallEnded, CallQueued
from ngcc112.tickets.models import AuditEntry

PRANK = {"verdict": "prank", "note": "laughing, hung up"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def _waiting_call(services, call_id: str = "wait.1") -> int:
    await services.store.record(CallArrived(call_id=call_id, at=_now(), channel=f"PJSIP/trunk-{call_id}",
                                            uniqueid=call_id, caller_number="081234567890",
                                            caller_name="", exten="112"))
    await services.store.record(CallQueued(call_id=call_id, at=_now(), queue=QUEUE, position=1,
                                           channel=f"PJSIP/trunk-{call_id}"))
    return (await services.store.by_linkedid(call_id)).id


async def _complete(client, token: str, ticket_id: int, body=PRANK):
    return await client.post(f"/api/tickets/{ticket_id}/complete", json=body,
                             headers={"X-CSRF-Token": token})


@pytest.mark.parametrize("path, body", [("complete", PRANK), ("classify", PRANK),
                                        ("intake", {"note": "typed while it rang"})])
async def test_no_operator_decides_a_ticket_whose_caller_is_still_waiting(client, services, path, body):
    ticket_id = await _waiting_call(services)
    token = await login(client, "op2")
    response = await client.post(f"/api/tickets/{ticket_id}/{path}", json=body,
                                 headers={"X-CSRF-Token": token})
    assert response.status == 403
    assert "still waiting" in (await response.json())["detail"]
    ticket = await services.store.get(ticket_id)
    assert ticket.state == "new" and ticket.verdict is None and ticket.intake == {}


async def test_the_operator_who_answers_takes_the_intake_and_nobody_else(client, other_client, services):
    ticket_id = await _waiting_call(services)
    await services.store.record(CallConnected(call_id="wait.1", at=_now(), queue=QUEUE,
                                              interface="PJSIP/op1", member_name="op1",
                                              waited_seconds=4.0))
    second = await other_client()
    response = await _complete(second, await login(second, "op2"), ticket_id)
    assert response.status == 403 and "another operator" in (await response.json())["detail"]
    response = await _complete(client, await login(client, "op1"), ticket_id)
    assert response.status == 200, await response.text()
    assert (await services.store.get(ticket_id)).state == "closed"


async def test_a_dispatcher_may_decide_for_a_waiting_caller_and_the_audit_says_so(client, services):
    ticket_id = await _waiting_call(services)
    response = await _complete(client, await login(client, "dispatcher"), ticket_id)
    assert response.status == 200, await response.text()
    async with services.sessions() as session:
        entries = (await session.scalars(select(AuditEntry)
                                         .where(AuditEntry.ticket_id == ticket_id)
                                         .where(AuditEntry.actor == "dispatcher"))).all()
    assert entries and all(entry.changes.get("caller_waiting") is True for entry in entries)


async def test_once_the_unanswered_call_ended_any_operator_may_call_back_and_classify(client, services):
    ticket_id = await _waiting_call(services)
    await services.store.record(CallEnded(call_id="wait.1", at=_now(), cause=16, cause_text="Normal Clearing"))
    response = await _complete(client, await login(client, "op2"), ticket_id)
    assert response.status == 200, await response.text()
