"""How a call's facts move on with its events: the one path from AMI call events to
:class:`~ngcc112.routing.facts.CallFacts`, shared by the live triage and the offline evaluation.

Pure: no I/O, no clock; every time comes from the events themselves.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from ngcc112 import names
from ngcc112.ami.events import (
    CallArrived,
    CallConnected,
    CallEnded,
    CallerDigit,
    CallerIdentified,
    CallerTalking,
    CallEvent,
    CallQueued,
    CallsResynced,
    CallVariables,
)
from ngcc112.routing.facts import VERDICTS, CallFacts, PastCall, is_withheld_presentation


def advance_facts(facts: CallFacts | None, event: CallEvent) -> CallFacts | None:
    """The call's facts after ``event``. Pure: the live triage and the evaluation share it.

    * arrival: number, name, category (from the dialled number);
    * ``NGCC_CID_PRES`` withholding the number; ``NGCC_ANSWERED_AT`` (or the
      queue join, when that variable was missed) is the system's answer;
      ``NGCC_SILENT_DIGIT`` / a received DTMF digit is the silent-call digit
      (a 5 is kept over any other digit);
    * queue join, operator answer (``AgentConnect`` only), talk spans;
    * the end; an end without ever reaching the queue is a hang-up in the
      prompt (unless the end was only inferred by a resync).

    Returns None only when there are no facts yet and ``event`` cannot start them.
    """
    if facts is None:
        if isinstance(event, CallsResynced):
            return None
        facts = CallFacts(arrived_at=event.at)
    if isinstance(event, CallArrived):
        return replace(
            facts,
            arrived_at=min(facts.arrived_at, event.at),
            caller_number=facts.caller_number or (event.caller_number or ""),
            caller_name=facts.caller_name or (event.caller_name or ""),
            category=facts.category or names.EMERGENCY_NUMBERS.get(event.exten or "", ""),
        )
    if isinstance(event, CallerIdentified):
        return replace(
            facts,
            caller_number=event.caller_number or facts.caller_number,
            caller_name=event.caller_name or facts.caller_name,
        )
    if isinstance(event, CallVariables):
        return _apply_variables(facts, event)
    if isinstance(event, CallQueued):
        return replace(facts, queued_at=facts.queued_at or event.at, answered_at=facts.answered_at or event.at)
    if isinstance(event, CallConnected):
        return replace(facts, operator_answered_at=facts.operator_answered_at or event.at)
    if isinstance(event, CallerTalking):
        if event.talking:
            return facts.talk_started(event.at)
        return facts.talk_stopped(event.at, timedelta(milliseconds=max(event.duration_ms or 0, 0)))
    if isinstance(event, CallerDigit):
        return _with_digit(facts, event.digit, event.at)
    if isinstance(event, CallEnded):
        if facts.ended_at is not None:
            return facts
        in_prompt = facts.queued_at is None and facts.operator_answered_at is None and not event.unobserved
        return replace(facts, ended_at=event.at, hung_up_in_prompt=in_prompt)
    return facts


def _apply_variables(facts: CallFacts, event: CallVariables) -> CallFacts:
    values = event.variables
    if names.VAR_CID_PRES in values:
        facts = replace(facts, presentation_withheld=is_withheld_presentation(values[names.VAR_CID_PRES] or ""))
    if names.VAR_ANSWERED_AT in values and facts.answered_at is None:
        facts = replace(facts, answered_at=event.at)
    if values.get(names.VAR_CATEGORY) and not facts.category:
        facts = replace(facts, category=values[names.VAR_CATEGORY])
    digit = (values.get(names.VAR_SILENT_DIGIT) or "").strip()
    if digit:
        facts = _with_digit(facts, digit, event.at)
    return facts


def _with_digit(facts: CallFacts, digit: str, at: datetime) -> CallFacts:
    digit = (digit or "").strip()[:1]
    if not digit:
        return facts
    if facts.silent_digit is None or (digit == names.SILENT_DIGIT and facts.silent_digit != names.SILENT_DIGIT):
        return replace(facts, silent_digit=digit, silent_digit_at=at)
    return facts


def history_only(facts: CallFacts) -> CallFacts:
    """What can be scored of a call the daemon did not watch from its start (found by a
    resync after a reconnect): who calls, not how the call went. Its speech, digits and
    timing were missed, so only the number and its history count."""
    return CallFacts(
        arrived_at=facts.arrived_at,
        caller_number=facts.caller_number,
        caller_name=facts.caller_name,
        presentation_withheld=facts.presentation_withheld,
        silent_digit=facts.silent_digit,
        silent_digit_at=facts.silent_digit_at,
        category=facts.category,
    )


def past_call(
    arrived_at: datetime,
    *,
    answered_at: datetime | None = None,
    ended_at: datetime | None = None,
    verdict: str | None = None,
) -> PastCall:
    """One earlier call as scoring sees it, from what a ticket records."""
    return PastCall(
        arrived_at=arrived_at,
        answered_by_operator=answered_at is not None,
        duration=None if ended_at is None else max(ended_at - arrived_at, timedelta(0)),
        ended_before_answer=ended_at is not None and answered_at is None,
        verdict=verdict if verdict in VERDICTS else None,
    )
