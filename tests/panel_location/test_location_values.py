"""The pure parts: how long ago in words, and the operator's coordinates as typed."""

from __future__ import annotations

import pytest

from ngcc112.panel.location.manual import ManualInvalid, validate_manual
from ngcc112.panel.location.present import age_text, reasons_for


def english(text: str) -> str:
    return text


@pytest.mark.parametrize(("seconds", "text"), [
    (-3600, "time ahead of our clock (device clock wrong?)"), (-30, "just now"), (0, "just now"),
    (44, "just now"), (60, "1 min ago"), (119, "1 min ago"), (120, "2 min ago"), (3599, "59 min ago"),
    (3600, "1 h ago"), (47 * 3600, "47 h ago"), (3 * 86400, "3 days ago"),
])
def test_age_text(seconds, text):
    assert age_text(seconds, english) == text


@pytest.mark.parametrize(("raw", "expected"), [
    ({"latitude": "-6.9147", "longitude": "107.6098"}, (-6.9147, 107.6098, None, None)),
    ({"latitude": " -6,9147 ", "longitude": "107,6098"}, (-6.9147, 107.6098, None, None)),
    ({"latitude": "-6.9147;107.6098", "longitude": ""}, (-6.9147, 107.6098, None, None)),
    ({"latitude": "-6.9147 107.6098", "longitude": ""}, (-6.9147, 107.6098, None, None)),
    ({"latitude": "-6.9", "longitude": "107.6", "address": "  Jl. Braga  ", "radius_m": "30"},
     (-6.9, 107.6, "Jl. Braga", 30.0)),
    ({"latitude": "90", "longitude": "-180"}, (90.0, -180.0, None, None)),
])
def test_valid_coordinates(raw, expected):
    fix = validate_manual(raw)
    assert (fix.latitude, fix.longitude, fix.address, fix.radius_m) == expected


@pytest.mark.parametrize(("raw", "fields"), [
    ({}, {"latitude", "longitude"}),
    ({"latitude": "1,234.5", "longitude": "107"}, {"latitude"}),
    ({"latitude": "inf", "longitude": "107"}, {"latitude"}),
    ({"latitude": "-6.9", "longitude": "107", "radius_m": "-1"}, {"radius_m"}),
    ({"latitude": "-91", "longitude": "181"}, {"latitude", "longitude"}),
])
def test_invalid_coordinates_name_each_field_and_keep_the_values(raw, fields):
    with pytest.raises(ManualInvalid) as caught:
        validate_manual(raw)
    assert set(caught.value.errors) == fields
    for key, value in raw.items():
        assert caught.value.values[key] == value


def test_reasons_in_the_language_with_english_then_code_as_fallback():
    reasons = [{"score": "ghost", "code": "a", "en": "A", "id": "Aa", "weight": 1},
               {"score": "ghost", "code": "b", "en": "B", "weight": 1},
               {"score": "ghost", "code": "c", "weight": 1},
               {"score": "prank", "code": "d", "en": "D", "id": "Dd", "weight": 1}, "junk"]
    assert [r["text"] for r in reasons_for(reasons, "ghost", "id")] == ["Aa", "B", "c"]
    assert [r["text"] for r in reasons_for(reasons, "prank", "en")] == ["D"]
