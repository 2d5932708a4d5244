"""The [routing] settings table: defaults, overrides, and clear refusals."""

from __future__ import annotations

import pytest

from ngcc112.routing.policy import Policy, PolicyError


def test_an_empty_table_gives_the_defaults() -> None:
    assert Policy.from_mapping({}) == Policy()


def test_overrides_are_taken_and_integers_accepted_for_seconds() -> None:
    policy = Policy.from_mapping({"no_speech_seconds": 8, "burst_count": 4, "priority_raise": 20})
    assert policy.no_speech_seconds == 8.0
    assert isinstance(policy.no_speech_seconds, float)
    assert policy.burst_count == 4
    assert policy.priority_raise == 20


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"no_speach_seconds": 8}, "unknown routing setting(s) 'no_speach_seconds'"),
        ({"no_speech_seconds": "8"}, "routing.no_speech_seconds must be a number"),
        ({"burst_count": 2.5}, "routing.burst_count must be an integer"),
        ({"burst_count": True}, "routing.burst_count must be an integer"),
        ({"burst_count": 0}, "routing.burst_count must be at least 1"),
        ({"weight_blocklist": 1.5}, "routing.weight_blocklist must be between 0 and 1"),
        ({"prank_threshold": -0.1}, "routing.prank_threshold must be between 0 and 1"),
        ({"no_speech_seconds": 0}, "routing.no_speech_seconds must be positive"),
        ({"history_days": float("nan")}, "routing.history_days must be finite"),
        ({"priority_lower": 5}, "priority_lower < priority_normal < priority_raise"),
    ],
)
def test_bad_values_are_refused_naming_the_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(PolicyError) as excinfo:
        Policy.from_mapping(table)
    assert message in str(excinfo.value)


def test_a_non_table_is_refused() -> None:
    with pytest.raises(PolicyError, match="must be a table"):
        Policy.from_mapping(["no_speech_seconds"])  # type: ignore[arg-type]


def test_windows_are_durations() -> None:
    policy = Policy(burst_window_minutes=5, history_days=30)
    assert policy.burst_window.total_seconds() == 300
    assert policy.history_window.days == 30
