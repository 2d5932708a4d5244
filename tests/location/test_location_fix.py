"""A LocationFix refuses values that cannot describe a position."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ngcc112.location.fix import InvalidFix, LocationFix

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)


def test_a_valid_fix_at_the_extremes() -> None:
    fix = LocationFix("manual", 90.0, -180.0, WHEN, radius_m=0.0, confidence_pct=100.0)
    assert (fix.latitude, fix.longitude, fix.radius_m, fix.confidence_pct) == (90, -180, 0, 100)
    assert not fix.is_automatic
    assert LocationFix("aml", -90, 180, WHEN, confidence_pct=0).is_automatic


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"latitude": 90.0001}, "latitude must be between -90 and 90"),
        ({"latitude": -91}, "latitude must be between -90 and 90"),
        ({"longitude": 180.5}, "longitude must be between -180 and 180"),
        ({"latitude": float("nan")}, "latitude must be a finite number"),
        ({"latitude": "6.2"}, "latitude must be a number"),
        ({"latitude": True}, "latitude must be a number"),
        ({"radius_m": -0.1}, "radius_m must be at least 0"),
        ({"radius_m": float("inf")}, "radius_m must be a finite number"),
        ({"confidence_pct": 100.5}, "confidence_pct must be between 0 and 100"),
        ({"source": "gps"}, "source must be one of"),
        ({"time": datetime(2026, 11, 28, 6, 0)}, "time must be a timezone-aware datetime"),
    ],
)
def test_invalid_values_are_refused(kwargs: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "source": "sip",
        "latitude": -6.2,
        "longitude": 106.8,
        "time": WHEN,
    }
    values.update(kwargs)
    with pytest.raises(InvalidFix, match=message):
        LocationFix(**values)  # type: ignore[arg-type]


def test_invalid_fix_is_a_value_error() -> None:
    assert issubclass(InvalidFix, ValueError)
