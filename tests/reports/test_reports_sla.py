"""The SLA clocks as pure functions: each stage's endpoints, judging, answer-time counting, targets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from ngcc112.tickets.sla import (
    DEFAULT_TARGETS,
    Milestones,
    SlaTargets,
    SlaTargetsError,
    Stage,
    answer_seconds,
    answered_within,
    stage_seconds,
    stage_timings,
)

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


def at(seconds: float | None) -> datetime | None:
    return None if seconds is None else T0 + timedelta(seconds=seconds)


def ms(**offsets: float | None) -> Milestones:
    abandoned = offsets.pop("abandoned", False)
    return Milestones(arrived_at=T0, abandoned=bool(abandoned), **{k: at(v) for k, v in offsets.items()})


FULL = ms(queued_at=3, answered_at=10, classified_at=55, escalated_at=100, dispatched_at=160,
          reported_at=1960, closed_at=1985)


@pytest.mark.parametrize(("stage", "seconds"), [
    (Stage.QUEUE_WAIT, 7), (Stage.INTAKE, 45), (Stage.CLASSIFICATION, 45), (Stage.DISPATCH, 60),
    (Stage.FIELD_HANDLING, 1800), (Stage.CLOSING, 25)])
def test_each_stage_runs_between_its_two_moments(stage, seconds):
    assert stage_seconds(FULL, stage) == seconds


def test_the_sop_targets_are_the_defaults_and_each_stage_is_judged_against_its_own():
    assert (DEFAULT_TARGETS.intake, DEFAULT_TARGETS.classification, DEFAULT_TARGETS.closing) == (60, 60, 30)
    assert DEFAULT_TARGETS.answer_thresholds == (10, 15, 20)
    timings = {t.stage: t for t in stage_timings(FULL)}
    assert timings[Stage.INTAKE].met is True and timings[Stage.CLOSING].met is True
    assert timings[Stage.DISPATCH].met is None, "the SOP gives no target for coordination"
    slow = stage_timings(ms(answered_at=0, classified_at=61, closed_at=121), DEFAULT_TARGETS)
    judged = {t.stage: t.met for t in slow}
    assert judged[Stage.INTAKE] is False and judged[Stage.CLASSIFICATION] is True  # exactly 60 s is in time


def test_a_call_never_escalated_records_its_report_until_it_is_closed():
    ghost = ms(answered_at=5, classified_at=20, closed_at=50)
    assert stage_seconds(ghost, Stage.CLASSIFICATION) == 30
    assert stage_seconds(ghost, Stage.CLOSING) is None, "closing runs from the agencies' report"
    assert stage_seconds(ghost, Stage.DISPATCH) is None


def test_an_override_close_is_not_a_closing_time():
    early = ms(answered_at=5, classified_at=20, escalated_at=30, dispatched_at=40, closed_at=400)
    assert stage_seconds(early, Stage.FIELD_HANDLING) is None and stage_seconds(early, Stage.CLOSING) is None
    assert stage_seconds(early, Stage.CLASSIFICATION) == 10, "escalation ends classification, not closing"


def test_stages_not_reached_are_not_measured():
    waiting = ms(queued_at=3)
    assert all(t.seconds is None and t.met is None and not t.measured for t in stage_timings(waiting))


@pytest.mark.parametrize(("milestones", "threshold", "expected"), [
    (ms(answered_at=15), 15, True),
    (ms(answered_at=15.5), 15, False),
    (ms(abandoned=True, abandoned_at=25), 20, False),   # gave up after the threshold: a miss
    (ms(abandoned=True, abandoned_at=20), 20, None),    # gave up in time: not counted
    (ms(abandoned=True, abandoned_at=2), 10, None),     # hung up in the prompt
    (ms(abandoned=True), 10, None),                     # no time of giving up known
    (ms(queued_at=3), 10, None),                        # still waiting
])
def test_answered_within_counts_from_arrival(milestones, threshold, expected):
    assert answered_within(milestones, threshold) is expected


def test_answer_time_is_from_arrival_not_from_queueing():
    assert answer_seconds(ms(queued_at=3, answered_at=12)) == 12
    assert answer_seconds(ms(queued_at=3)) is None


def test_targets_from_configuration():
    targets = SlaTargets.from_mapping({"intake": 45, "closing": "20", "dispatch": 120,
                                       "classification": "none", "answer_thresholds": "20, 10"})
    assert (targets.intake, targets.closing, targets.dispatch, targets.classification) == (45, 20, 120, None)
    assert targets.answer_thresholds == (10, 20)
    assert SlaTargets.from_mapping({}) == DEFAULT_TARGETS
    assert SlaTargets.from_mapping({"intake": 0}).intake is None
    for bad in ({"intake": -1}, {"intake": "soon"}, {"intake": True}, {"queue": 10},
                {"answer_thresholds": []}, {"answer_thresholds": 15}, {"answer_thresholds": [10, "x"]},
                {"closing": float("nan")}):
        with pytest.raises(SlaTargetsError):
            SlaTargets.from_mapping(bad)
