"""When an AML fix may become the position without an operator: every doubt, and its borders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.location.fix import LocationFix
from ngcc112.location.trust import FixLimits, aml_trust

RECEIVED = datetime(2026, 11, 28, 6, 0, 10, tzinfo=UTC)
ARRIVED = datetime(2026, 11, 28, 6, 0, 0, tzinfo=UTC)
LIMITS = FixLimits(max_accuracy_m=1000.0, max_age=timedelta(seconds=600),
                   future_skew=timedelta(seconds=30))
WINDOW = timedelta(seconds=30)


def s(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def fix(time: datetime = RECEIVED - s(2), radius: float | None = 15.0) -> LocationFix:
    return LocationFix(source="aml", latitude=-6.2, longitude=106.8, time=time, radius_m=radius)


def doubts(new: LocationFix, *, authenticated: bool = True, received: datetime = RECEIVED,
           arrived: datetime = ARRIVED) -> set[str]:
    trust = aml_trust(new, authenticated=authenticated, received_at=received,
                      not_before=arrived - WINDOW, limits=LIMITS)
    assert trust.auto_accept is (not trust.doubts)
    assert all(d.text for d in trust.doubts)
    return set(trust.codes)


def test_a_fresh_accurate_fix_from_an_authenticated_sender_is_not_doubted() -> None:
    assert doubts(fix()) == set()


def test_an_unauthenticated_sender_is_always_doubted() -> None:
    assert doubts(fix(), authenticated=False) == {"unauthenticated"}


@pytest.mark.parametrize("ahead, doubted", [(29, False), (30, False), (31, True), (3600, True)])
def test_a_fix_dated_after_it_arrived_is_doubted_beyond_the_skew(ahead, doubted) -> None:
    assert ("future" in doubts(fix(RECEIVED + s(ahead)))) is doubted


@pytest.mark.parametrize("age, doubted", [(599, False), (600, False), (601, True)])
def test_a_fix_too_old_when_received_is_doubted(age, doubted) -> None:
    # the call arrived long before: only the age is in question
    assert ("stale" in doubts(fix(RECEIVED - s(age)), arrived=RECEIVED - s(age))) is doubted


@pytest.mark.parametrize("radius, code", [(1000.0, None), (1000.5, "inaccurate"),
                                          (None, "accuracy_unknown"), (0.0, None)])
def test_accuracy_worse_than_the_bound_or_unknown_is_doubted(radius, code) -> None:
    found = doubts(fix(radius=radius))
    assert found == ({code} if code else set())


def test_a_fix_made_before_the_call_could_have_been_dialled_is_doubted() -> None:
    made = ARRIVED - WINDOW - s(1)
    assert doubts(fix(made), received=ARRIVED + s(2)) == {"before_call"}
    assert doubts(fix(ARRIVED - WINDOW), received=ARRIVED + s(2)) == set()  # the border


def test_a_message_received_before_the_call_is_doubted_even_with_a_plausible_date() -> None:
    # planted: it reached us 50 s before the call, dated 25 s ahead so that it matches the call
    received = ARRIVED - s(50)
    trust = aml_trust(fix(received + s(25)), authenticated=True, received_at=received,
                      not_before=ARRIVED - WINDOW, limits=LIMITS)
    assert trust.codes == ("before_call",)
    assert "received 20 s before" in trust.doubts[0].text


def test_every_doubt_is_listed_at_once() -> None:
    received = ARRIVED + s(5)
    found = doubts(fix(received + s(3600), radius=None), authenticated=False, received=received)
    assert found == {"unauthenticated", "future", "accuracy_unknown"}


@given(authenticated=st.booleans(),
       fix_offset=st.floats(min_value=-7200, max_value=7200, allow_nan=False),
       arrival_offset=st.floats(min_value=-7200, max_value=7200, allow_nan=False),
       radius=st.one_of(st.none(), st.floats(min_value=0, max_value=5000, allow_nan=False)))
def test_auto_accepted_exactly_when_every_condition_holds(authenticated, fix_offset,
                                                            arrival_offset, radius) -> None:
    fix_time = RECEIVED + s(fix_offset)
    not_before = RECEIVED + s(arrival_offset) - WINDOW
    trust = aml_trust(fix(fix_time, radius), authenticated=authenticated, received_at=RECEIVED,
                      not_before=not_before, limits=LIMITS)
    plausible = (authenticated
                 and fix_time - RECEIVED <= LIMITS.future_skew
                 and RECEIVED - fix_time <= LIMITS.max_age
                 and radius is not None and radius <= LIMITS.max_accuracy_m
                 and fix_time >= not_before and RECEIVED >= not_before)
    assert trust.auto_accept is plausible
