"""The one backoff every retry loop uses: doubling, capped, jittered within bounds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.backoff import Backoff, capped_delay

firsts = st.floats(min_value=0.001, max_value=10.0)
caps = st.floats(min_value=0.0, max_value=600.0)
fractions = st.floats(min_value=0.0, max_value=1.0)


def test_delays_double_from_the_first_up_to_the_cap_and_start_over_after_a_success():
    backoff = Backoff(first=0.5, cap=4.0, jitter=0.0)
    assert [backoff.next() for _ in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.next() == 0.5


def test_the_cap_is_reported_once_the_longest_delay_is_reached():
    backoff = Backoff(first=1.0, cap=4.0, jitter=0.0)
    seen = []
    for _ in range(4):
        backoff.next()
        seen.append(backoff.at_cap)
    assert seen == [False, False, True, True]
    backoff.reset()
    assert not backoff.at_cap


def test_jitter_takes_off_at_most_its_fraction():
    assert Backoff(first=1.0, cap=8.0, jitter=0.25, rand=lambda: 1.0).next() == 0.75
    assert Backoff(first=1.0, cap=8.0, jitter=0.25, rand=lambda: 0.0).next() == 1.0


@pytest.mark.parametrize(("first", "cap", "jitter"), [(0.0, 1.0, 0.1), (2.0, 1.0, 0.1), (1.0, 2.0, 1.5)])
def test_unusable_bounds_are_refused(first, cap, jitter):
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first=first, cap=cap, jitter=jitter)


@given(first=firsts, extra=caps, jitter=fractions, draws=st.lists(fractions, min_size=1, max_size=40))
def test_delays_never_shrink_before_the_cap_and_stay_within_the_jitter(first, extra, jitter, draws):
    cap = first + extra
    rolls = iter(draws)
    backoff = Backoff(first=first, cap=cap, jitter=jitter, rand=lambda: next(rolls))
    bases = [capped_delay(attempt, first, cap) for attempt in range(len(draws))]
    delays = [backoff.next() for _ in draws]
    assert bases == sorted(bases) and bases[0] == first and max(bases) <= cap
    for base, delay, roll in zip(bases, delays, draws, strict=True):
        assert base * (1 - jitter) - 1e-9 <= delay <= base
        assert delay == pytest.approx(base * (1 - jitter * roll))
    reached = [base == cap for base in bases]
    assert reached == sorted(reached)  # once at the cap, it stays there


@given(attempt=st.integers(min_value=-5, max_value=10_000), first=firsts, extra=caps)
def test_any_attempt_gives_a_finite_delay_within_the_bounds(attempt, first, extra):
    assert first <= capped_delay(attempt, first, first + extra) <= first + extra
