"""The after-call work rule, on an injected clock (plain numbers: no sleeping, no host time)."""

from __future__ import annotations

import pytest

from ngcc112.routing.wrapup import WRAPUP_REASON, MemberFact, Pause, Resume, WrapUpRule

OP = "PJSIP/op1"
T0 = 1_800_000_000.0


def wrapped(limit: float = 60.0) -> WrapUpRule:
    rule = WrapUpRule(limit)
    assert rule.call_connected("c1", OP) == []
    assert rule.call_ended("c1", T0) == [Pause(OP, "c1")]
    return rule


def test_call_end_pauses_the_operator_who_took_it():
    rule = WrapUpRule(60)
    assert rule.call_ended("never-answered", T0) == []
    rule.call_connected("c1", OP)
    assert rule.call_ended("c1", T0) == [Pause(OP, "c1")]
    assert rule.next_deadline() == T0 + 60
    assert rule.call_ended("c1", T0 + 1) == []  # a second end of the same call changes nothing


def test_submitting_the_intake_resumes_before_the_limit():
    rule = wrapped()
    assert rule.intake_done(OP, "another-call") == []  # an older pending intake is not this call's
    assert rule.intake_done(OP, "c1") == [Resume(OP, expired=False)]
    assert rule.due(T0 + 120) == [] and rule.next_deadline() is None


def test_limit_resumes_with_a_warning_exactly_at_the_deadline():
    rule = wrapped(limit=60)
    assert rule.due(T0 + 59.9) == []
    assert rule.due(T0 + 60) == [Resume(OP, expired=True)]
    assert rule.due(T0 + 61) == [] and rule.intake_done(OP, "c1") == []


def test_the_configured_limit_is_used():
    rule = wrapped(limit=15)
    assert rule.next_deadline() == T0 + 15
    assert rule.due(T0 + 15) == [Resume(OP, expired=True)]


def test_an_operator_who_chose_a_break_is_not_resumed():
    rule = wrapped()
    rule.member(MemberFact(OP, True, True, WRAPUP_REASON), T0 + 1)
    rule.member(MemberFact(OP, True, True, "meal"), T0 + 5)
    assert rule.due(T0 + 600) == [] and rule.intake_done(OP, "c1") == []


def test_an_operator_who_left_the_queue_is_not_resumed():
    rule = wrapped()
    rule.member(MemberFact(OP, False, False, ""), T0 + 5)
    assert rule.due(T0 + 600) == []


def test_an_unpaused_report_before_our_pause_arrives_does_not_cancel_it():
    """Hang-up's QueueMemberStatus (unpaused) comes before the QueueMemberPause we asked for."""
    rule = wrapped()
    rule.member(MemberFact(OP, True, False, ""), T0)
    assert rule.wrapping(OP) is not None
    rule.member(MemberFact(OP, True, True, WRAPUP_REASON), T0 + 0.01)
    rule.member(MemberFact(OP, True, False, ""), T0 + 3)  # then Ready by hand: wrap-up over
    assert rule.wrapping(OP) is None and rule.due(T0 + 600) == []


def test_a_new_call_ends_the_wrap_up():
    rule = wrapped()
    rule.call_connected("c2", OP)
    assert rule.due(T0 + 600) == []


def test_restart_resumes_a_member_paused_for_wrap_up_beyond_the_limit():
    rule = WrapUpRule(60)
    decisions = rule.resync([
        MemberFact(OP, True, True, WRAPUP_REASON, last_pause=T0 - 3600),
        MemberFact("PJSIP/op2", True, True, "meal", last_pause=T0 - 3600),
        MemberFact("PJSIP/op3", True, False, "", last_pause=0),
    ], T0)
    assert decisions == [Resume(OP, expired=True)]
    assert rule.next_deadline() is None


def test_restart_gives_a_recent_wrap_up_the_rest_of_its_time():
    rule = WrapUpRule(60)
    assert rule.resync([MemberFact(OP, True, True, WRAPUP_REASON, last_pause=T0 - 20)], T0) == []
    assert rule.next_deadline() == T0 + 40
    assert rule.intake_done(OP, "whatever-call") == [Resume(OP, expired=False)]


def test_restart_without_last_pause_counts_from_now():
    rule = WrapUpRule(60)
    assert rule.resync([MemberFact(OP, True, True, WRAPUP_REASON, last_pause=None)], T0) == []
    assert rule.due(T0 + 60) == [Resume(OP, expired=True)]


def test_resync_keeps_a_pause_still_on_its_way_and_drops_one_undone_by_hand():
    rule = wrapped()
    assert rule.resync([MemberFact(OP, True, False, "")], T0 + 0.01) == []
    assert rule.wrapping(OP) is not None  # our QueuePause has not been applied yet
    rule.member(MemberFact(OP, True, True, WRAPUP_REASON), T0 + 0.02)
    assert rule.resync([MemberFact(OP, True, False, "")], T0 + 5) == []
    assert rule.wrapping(OP) is None


def test_calls_that_ended_while_away_start_the_wrap_up():
    rule = WrapUpRule(60)
    rule.call_connected("c1", OP)
    rule.call_connected("c2", "PJSIP/op2")
    assert rule.calls_live({"c2"}, T0) == [Pause(OP, "c1")]


def test_limit_must_be_positive():
    with pytest.raises(ValueError):
        WrapUpRule(0)


def test_a_break_chosen_during_the_call_is_kept_at_its_end():
    rule = WrapUpRule(60)
    rule.call_connected("c1", OP)
    rule.member(MemberFact(OP, True, True, "meal"), T0 - 5)
    assert rule.call_ended("c1", T0) == []
    rule.call_connected("c2", "PJSIP/op2")
    rule.member(MemberFact("PJSIP/op2", False, False, ""), T0 - 5)
    assert rule.call_ended("c2", T0) == []


def test_an_intake_submitted_during_the_call_needs_no_wrap_up():
    rule = WrapUpRule(60)
    rule.call_connected("c1", OP)
    assert rule.intake_done(OP, "c1") == []
    assert rule.call_ended("c1", T0) == []
    assert rule.next_deadline() is None
    rule.call_connected("c2", OP)  # the next call is protected again
    assert rule.call_ended("c2", T0 + 5) == [Pause(OP, "c2")]
