"""Attaching an AML fix to its call, and keeping an accepted position."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ngcc112.location.fix import LocationFix
from ngcc112.location.matching import CallRef, accept_candidate, decide_fix, match_call
from ngcc112.location.trust import TRUSTED, Doubt, FixTrust

T0 = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
NUMBER = "081234567890"


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


ENDED = CallRef(ticket_id=7, number=NUMBER, arrived_at=T0, ended_at=T0 + s(90))


# --- match_call ---------------------------------------------------------------------


def test_a_fix_during_the_call_matches_it() -> None:
    assert match_call(T0 + s(5), "+6281234567890", [ENDED]) == ENDED


def test_the_borders_are_included() -> None:
    assert match_call(T0 - s(30), NUMBER, [ENDED]) == ENDED
    assert match_call(T0 + s(90) + timedelta(minutes=10), NUMBER, [ENDED]) == ENDED


def test_just_outside_the_borders_matches_nothing() -> None:
    tick = timedelta(microseconds=1)
    assert match_call(T0 - s(30) - tick, NUMBER, [ENDED]) is None
    assert match_call(T0 + s(90) + timedelta(minutes=10) + tick, NUMBER, [ENDED]) is None


def test_the_windows_can_be_set() -> None:
    assert match_call(T0 - s(45), NUMBER, [ENDED], window_before=s(60)) == ENDED
    assert match_call(T0 + s(100), NUMBER, [ENDED], window_after=s(5)) is None


def test_a_live_call_has_no_end_to_its_window() -> None:
    live = CallRef(8, NUMBER, T0)
    assert match_call(T0 + timedelta(hours=2), NUMBER, [live]) == live


def test_no_call_no_match() -> None:
    assert match_call(T0, NUMBER, []) is None


def test_another_number_does_not_match() -> None:
    assert match_call(T0 + s(5), "081234567891", [ENDED]) is None


def test_a_fix_without_a_number_never_matches() -> None:
    anonymous = CallRef(9, "<unknown>", T0)
    assert match_call(T0 + s(5), "", [anonymous]) is None
    assert match_call(T0 + s(5), "anonymous", [anonymous]) is None


def test_of_two_calls_the_closest_wins() -> None:
    first = CallRef(1, NUMBER, T0, T0 + s(20))
    second = CallRef(2, "+6281234567890", T0 + s(120))  # called back, still live
    assert match_call(T0 + s(10), NUMBER, [first, second]) == first
    assert match_call(T0 + s(30), NUMBER, [first, second]) == first  # 10 s after its end
    assert match_call(T0 + s(100), NUMBER, [first, second]) == second  # 20 s before its arrival
    assert match_call(T0 + s(130), NUMBER, [second, first]) == second


def test_on_a_tie_the_latest_arrival_wins() -> None:
    stale = CallRef(1, NUMBER, T0)  # its hang-up was never seen
    fresh = CallRef(2, NUMBER, T0 + s(60))
    assert match_call(T0 + s(70), NUMBER, [stale, fresh]) == fresh
    assert match_call(T0 + s(70), NUMBER, [fresh, stale]) == fresh


@given(st.floats(-3600, 3600), st.floats(0, 600))
def test_a_match_is_always_inside_its_window(offset: float, length: float) -> None:
    call = CallRef(1, NUMBER, T0, T0 + s(length))
    fix_time = T0 + s(offset)
    inside = T0 - s(30) <= fix_time <= T0 + s(length) + timedelta(minutes=10)
    assert (match_call(fix_time, NUMBER, [call]) == call) == inside


# --- decide_fix -----------------------------------------------------------------------


def fix(source: str, latitude: float, seconds: float = 0) -> LocationFix:
    return LocationFix(source, latitude, 106.8, T0 + s(seconds), radius_m=50)  # type: ignore[arg-type]


SIP = fix("sip", -6.20)
AML = fix("aml", -6.21, 3)
MANUAL = fix("manual", -6.22, 60)


def test_the_first_automatic_fix_is_accepted() -> None:
    decision = decide_fix(None, (), SIP, trust=TRUSTED)
    assert (decision.accepted, decision.candidates, decision.outcome) == (SIP, (), "accepted")


def test_an_automatic_fix_never_overwrites_an_accepted_one() -> None:
    decision = decide_fix(SIP, (), AML, trust=TRUSTED)
    assert decision.accepted == SIP
    assert decision.candidates == (AML,)
    assert decision.outcome == "candidate"


def test_an_automatic_fix_does_not_replace_the_operators_position() -> None:
    later = fix("aml", -6.30, 120)
    decision = decide_fix(MANUAL, (AML,), later, trust=TRUSTED)
    assert decision.accepted == MANUAL
    assert decision.candidates == (AML, later)


DOUBTED = FixTrust((Doubt("future", "dated 5 min after it was received"),))


def test_a_doubted_automatic_fix_waits_even_when_there_is_no_position_yet() -> None:
    decision = decide_fix(None, (), AML, trust=DOUBTED)
    assert (decision.accepted, decision.candidates, decision.outcome) == (None, (AML,), "candidate")


def test_a_doubted_fix_is_still_one_click_away() -> None:
    waiting = decide_fix(None, (), AML, trust=DOUBTED)
    clicked = accept_candidate(waiting.accepted, waiting.candidates, AML)
    assert (clicked.accepted, clicked.outcome) == (AML, "accepted")


def test_the_operators_own_fix_is_accepted_whatever_the_trust_says() -> None:
    decision = decide_fix(None, (AML,), MANUAL, trust=DOUBTED)
    assert decision.accepted == MANUAL and decision.outcome == "accepted"


def test_the_same_report_twice_changes_nothing() -> None:
    again = fix("aml", -6.21, 3)
    assert decide_fix(SIP, (AML,), again, trust=TRUSTED).outcome == "duplicate"
    assert decide_fix(SIP, (AML,), again, trust=TRUSTED).candidates == (AML,)
    assert decide_fix(SIP, (), fix("sip", -6.20), trust=TRUSTED).outcome == "duplicate"


def test_an_operators_fix_is_accepted_and_the_replaced_one_kept() -> None:
    decision = decide_fix(SIP, (AML,), MANUAL, trust=TRUSTED)
    assert decision.accepted == MANUAL
    assert decision.candidates == (AML, SIP)
    assert decision.outcome == "accepted"


def test_an_operator_correcting_their_own_fix_replaces_it() -> None:
    corrected = fix("manual", -6.23, 90)
    decision = decide_fix(MANUAL, (), corrected, trust=TRUSTED)
    assert (decision.accepted, decision.candidates) == (corrected, ())


def test_one_click_acceptance_of_a_candidate() -> None:
    decision = accept_candidate(SIP, (AML,), AML)
    assert decision.accepted == AML
    assert decision.candidates == (SIP,)
    assert decision.outcome == "accepted"


def test_accepting_something_that_is_not_a_candidate_changes_nothing() -> None:
    decision = accept_candidate(SIP, (AML,), MANUAL)
    assert (decision.accepted, decision.candidates, decision.outcome) == (SIP, (AML,), "unchanged")
