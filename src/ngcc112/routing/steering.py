"""When a live call is scored, and what is done with a score: the queue priority to send
and the reasons kept on the ticket. Pure rules shared by the live triage and the evaluation.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ngcc112.routing.facts import CallFacts
from ngcc112.routing.policy import Policy
from ngcc112.routing.scoring import Assessment, Reason


def scoring_moment(before: CallFacts | None, after: CallFacts | None) -> str | None:
    """Why the call should be scored now (a short name), or None.

    Queue join, the silent-call digit, first speech after an earlier score
    could have said "no speech", an operator answering, the end. The
    no-speech timer is the one moment no event marks: see :func:`no_speech_due`.
    """
    if after is None:
        return None
    if before is None:
        return None
    if after.ended_at is not None and before.ended_at is None:
        return "ended"
    if after.queued_at is not None and before.queued_at is None:
        return "queued"
    if after.silent_digit != before.silent_digit:
        return "digit"
    if after.operator_answered_at is not None and before.operator_answered_at is None:
        return "operator_answered"
    if after.first_talk_at is not None and before.first_talk_at is None and after.reached_queue:
        return "speech"
    return None


def no_speech_due(facts: CallFacts, policy: Policy) -> datetime | None:
    """When the no-speech window closes for a call still silent, or None."""
    if facts.answered_at is None or facts.ended_at is not None or facts.first_talk_at is not None:
        return None
    return facts.answered_at + timedelta(seconds=policy.no_speech_seconds)


def priority_to_send(facts: CallFacts, assessment: Assessment, current: int, *, raised: bool) -> int | None:
    """The queue priority to send now, or None. Shared with the evaluation.

    Only while the caller waits in the queue (queued, not ended, no operator
    yet), only when the advice differs from the caller's ``current``
    priority, and never lower for a call that was ``raised`` (a caller who
    pressed 5 stays ahead whatever comes later).
    """
    advice = assessment.priority
    if advice is None or advice.priority == current:
        return None
    if facts.queued_at is None or facts.ended_at is not None or facts.operator_answered_at is not None:
        return None
    if raised and advice.priority < current:
        return None
    return advice.priority


def reasons_json(assessment: Assessment) -> list[dict[str, Any]]:
    """The reasons for the ticket's ``score_reasons``: score, code, en, id, weight."""

    def one(kind: str, reason: Reason) -> dict[str, Any]:
        return {
            "score": kind,
            "code": reason.code,
            "en": reason.text_en,
            "id": reason.text_id,
            "weight": round(reason.weight, 4),
        }

    return (
        [one("ghost", r) for r in assessment.ghost.reasons]
        + [one("prank", r) for r in assessment.prank.reasons]
        + [one("real", r) for r in assessment.real_reasons]
    )


def moment_name(facts: CallFacts) -> str:
    """The stage a call has reached, for the record of each score."""
    if facts.ended_at is not None:
        return "ended"
    if facts.operator_answered_at is not None:
        return "operator_answered"
    if facts.queued_at is not None:
        return "queued"
    return "prompt"
