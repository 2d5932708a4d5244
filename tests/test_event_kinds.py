"""Audit actions and journal entries name call events by a declared kind, not a class name."""

from __future__ import annotations

from datetime import datetime, timezone

from ngcc112.ami import events
from ngcc112.tickets import journal

#: The names stored in audit rows and journals since the first release: data, not code.
STORED_KINDS = {
    "call_arrived", "caller_identified", "call_variables", "call_queued", "operator_ringing",
    "operator_ring_no_answer", "call_connected", "call_abandoned", "call_withdrawn",
    "caller_talking", "caller_digit", "call_ended",
}


def test_every_call_event_declares_its_stored_kind():
    kinds = {cls.kind for cls in vars(events).values()
             if isinstance(cls, type) and issubclass(cls, events.CallEvent) and cls is not events.CallEvent}
    assert kinds == STORED_KINDS


def test_a_journal_from_before_the_kinds_still_reads():
    at = datetime(2026, 11, 1, 8, 0, tzinfo=timezone.utc)
    event = events.CallEnded(call_id="1.1", at=at, cause=16, cause_text="Normal Clearing")
    kind, payload = journal.encode(event)
    assert kind == "call_ended"
    assert journal.decode(kind, payload) == event
    assert journal.decode("CallEnded", payload) == event  # written by an older ngcc112
