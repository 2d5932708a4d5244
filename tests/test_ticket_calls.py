"""How call events change a ticket (tickets/calls.apply): the cases a real Asterisk showed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from ngcc112.ami.events import CallAbandoned, CallArrived, CallEnded, CallQueued, CallWithdrawn
from ngcc112.tickets.calls import apply, new_ticket

T0 = datetime(2026, 12, 1, 5, 0, tzinfo=timezone.utc)
CALL = "1796128134.3"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def arrived():  # type: ignore[no-untyped-def]
    event = CallArrived(call_id=CALL, at=at(0), channel="PJSIP/carrier-00000003", uniqueid=CALL,
                        caller_number="5555201", caller_name="Ditarik", exten="112")
    ticket = new_ticket(event)
    apply(ticket, event)
    apply(ticket, CallQueued(call_id=CALL, at=at(7), queue="ngcc112-operators", position=1, channel=""))
    return ticket


def test_a_withdrawn_caller_who_waits_on_is_no_callback_candidate() -> None:
    # Asterisk 22: QueueCallerAbandon, then VarSet QUEUESTATUS=WITHDRAW, then the supervisors' queue
    ticket = arrived()
    apply(ticket, CallAbandoned(call_id=CALL, at=at(20), queue="ngcc112-operators", position=1, waited_seconds=13))
    apply(ticket, CallWithdrawn(call_id=CALL, at=at(20), queue="ngcc112-operators", info="withdrawn"))
    assert ticket.withdrawn is True
    assert ticket.abandoned is False and ticket.abandoned_at is None


def test_leaving_for_the_supervisors_queue_is_not_an_abandon() -> None:
    ticket = arrived()
    apply(ticket, CallAbandoned(call_id=CALL, at=at(67), queue="ngcc112-operators", position=1, waited_seconds=60))
    apply(ticket, CallQueued(call_id=CALL, at=at(67), queue="ngcc112-supervisors", position=1, channel=""))
    assert ticket.abandoned is False
    assert ticket.queue == "ngcc112-supervisors"
    assert ticket.queued_at == at(7)


def test_hanging_up_after_a_withdraw_is_an_abandon_again() -> None:
    ticket = arrived()
    apply(ticket, CallAbandoned(call_id=CALL, at=at(20), queue="ngcc112-operators", position=1, waited_seconds=13))
    apply(ticket, CallWithdrawn(call_id=CALL, at=at(20), queue="ngcc112-operators", info="withdrawn"))
    apply(ticket, CallEnded(call_id=CALL, at=at(30), cause=16, cause_text="Normal Clearing"))
    assert ticket.abandoned is True and ticket.abandoned_at == at(30)
