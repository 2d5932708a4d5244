"""Reading the caller's position from the dialplan's NGCC_GEO_* variables."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ngcc112.location.sip import parse_geo_params, parse_sip_geolocation

WHEN = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
RECORDED_LOCATION = 'shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"'


def geo_varsets(transcript: Path) -> dict[str, str]:
    """The NGCC_GEO_* VarSet values of a recorded transcript, as sent (still escaped)."""
    values: dict[str, str] = {}
    for message in transcript.read_bytes().decode("utf-8").split("\r\n\r\n"):
        headers = dict(
            line.split(": ", 1) if ": " in line else (line.rstrip(":"), "")
            for line in message.split("\r\n")
            if line
        )
        if headers.get("Event") == "VarSet" and headers.get("Variable", "").startswith("NGCC_GEO_"):
            values[headers["Variable"]] = headers.get("Value", "")
    return values


def test_the_recorded_varsets_give_the_callers_circle(transcripts_dir: Path) -> None:
    recorded = geo_varsets(transcripts_dir / "l_geolocation.ami")
    assert recorded["NGCC_GEO_LOCATION"] == RECORDED_LOCATION.replace('"', '\\"')
    # What the AMI layer hands over: VarSet values with the C-escaping undone.
    variables = {name: value.replace('\\"', '"') for name, value in recorded.items()}

    fix = parse_sip_geolocation(variables, WHEN)

    assert fix is not None
    assert (fix.source, fix.latitude, fix.longitude) == ("sip", -6.2, 106.8166)
    assert fix.radius_m == 50.0
    assert fix.confidence_pct == 95.0
    assert fix.method == "GPS"
    assert fix.time == WHEN
    assert "NGCC_GEO_EFFECTIVE=" + RECORDED_LOCATION in fix.raw
    assert "NGCC_GEO_DEVICE_ID=mac:00112233445a" in fix.raw


def test_values_still_escaped_are_read_too() -> None:
    fix = parse_sip_geolocation({"NGCC_GEO_LOCATION": RECORDED_LOCATION.replace('"', '\\"')}, WHEN)
    assert fix is not None and (fix.latitude, fix.radius_m) == (-6.2, 50.0)


def test_effective_location_wins_over_the_received_one() -> None:
    fix = parse_sip_geolocation(
        {
            "NGCC_GEO_LOCATION": RECORDED_LOCATION,
            "NGCC_GEO_EFFECTIVE": 'shape="Point",crs="2d",pos="-6.1754 106.8272"',
        },
        WHEN,
    )
    assert fix is not None
    assert (fix.latitude, fix.longitude, fix.radius_m) == (-6.1754, 106.8272, None)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ('shape="Point",crs="2d",pos="-6.2 106.8"', (-6.2, 106.8, None)),
        ('shape="Point",crs="3d",pos="-6.2 106.8 12.5"', (-6.2, 106.8, None)),
        ('shape="Sphere",crs="3d",pos="-6.2 106.8 12",radius="30"', (-6.2, 106.8, 30.0)),
        (
            'shape="Ellipse",crs="2d",pos="-6.2 106.8",semiMajorAxis="120",'
            'semiMinorAxis="40",orientation="30"',
            (-6.2, 106.8, 120.0),
        ),
        (
            'shape="ArcBand",crs="2d",pos="-6.2 106.8",innerRadius="100",outerRadius="900",'
            'startAngle="10",openingAngle="45"',
            (-6.2, 106.8, 900.0),
        ),
        ("shape=Circle,crs=2d,pos=-6.2 106.8,radius=50", (-6.2, 106.8, 50.0)),
    ],
)
def test_shapes(location: str, expected: tuple[float, float, float | None]) -> None:
    fix = parse_sip_geolocation({"NGCC_GEO_LOCATION": location}, WHEN)
    assert fix is not None
    assert (fix.latitude, fix.longitude, fix.radius_m) == expected


def test_a_polygon_becomes_its_centre_with_a_radius_covering_every_corner() -> None:
    fix = parse_sip_geolocation(
        {
            "NGCC_GEO_LOCATION": 'shape="Polygon",crs="2d",pos1="-6.20 106.80",'
            'pos2="-6.21 106.80",pos3="-6.21 106.81",pos4="-6.20 106.81"'
        },
        WHEN,
    )
    assert fix is not None
    assert fix.latitude == pytest.approx(-6.205)
    assert fix.longitude == pytest.approx(106.805)
    assert fix.radius_m == pytest.approx(785, abs=5)  # half the ~1.1 km x 1.1 km diagonal


def test_confidence_forms() -> None:
    for text, expected in [
        ('pdf="normal",value="95"', 95.0),
        ("pdf=rectangular,value=68", 68.0),
        ("90", 90.0),
        ('pdf="normal",value="150"', None),
        ("high", None),
        ("", None),
    ]:
        variables = {"NGCC_GEO_LOCATION": RECORDED_LOCATION, "NGCC_GEO_CONFIDENCE": text}
        fix = parse_sip_geolocation(variables, WHEN)
        assert fix is not None and fix.confidence_pct == expected, text


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"NGCC_GEO_HEADER": "<cid:ngcc-loc-1@caller1.ngcc.test>", "NGCC_GEO_ROUTING": "yes"},
        {"NGCC_GEO_LOCATION": ""},
        {"NGCC_GEO_LOCATION": "garbage"},
        {"NGCC_GEO_LOCATION": 'shape="Circle",pos="north 106.8",radius="50"'},
        {"NGCC_GEO_LOCATION": 'shape="Circle",pos="-96.2 106.8",radius="50"'},
        {"NGCC_GEO_LOCATION": 'shape="Circle",pos="-6.2 186.8"'},
        {"NGCC_GEO_LOCATION": 'shape="Circle",pos="nan 106.8"'},
        {"NGCC_GEO_LOCATION": 'shape="Circle",pos="-6.2"'},
        {"NGCC_GEO_LOCATION": 'shape="Polygon"'},
    ],
)
def test_absent_or_unreadable_location_is_none(variables: dict[str, str]) -> None:
    assert parse_sip_geolocation(variables, WHEN) is None


def test_a_naive_time_gives_none_rather_than_an_error() -> None:
    assert (
        parse_sip_geolocation({"NGCC_GEO_LOCATION": RECORDED_LOCATION}, datetime(2026, 1, 1))
        is None
    )


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "NGCC_GEO_LOCATION",
                "NGCC_GEO_EFFECTIVE",
                "NGCC_GEO_CONFIDENCE",
                "NGCC_GEO_METHOD",
                "OTHER",
            ]
        ),
        st.text(),
    )
)
def test_arbitrary_values_never_raise(variables: dict[str, str]) -> None:
    fix = parse_sip_geolocation(variables, WHEN)
    assert fix is None or (-90 <= fix.latitude <= 90 and -180 <= fix.longitude <= 180)


def test_the_recorded_varsets_read_even_still_escaped(transcripts_dir: Path) -> None:
    fix = parse_sip_geolocation(geo_varsets(transcripts_dir / "l_geolocation.ami"), WHEN)
    assert fix is not None
    assert (fix.latitude, fix.longitude, fix.radius_m, fix.confidence_pct) == (
        -6.2,
        106.8166,
        50.0,
        95.0,
    )


def test_parse_geo_params_normalises_keys() -> None:
    params = parse_geo_params('shape="Ellipse",semi_major_axis="5",Semi-Minor-Axis="2"')
    assert params == {"shape": "Ellipse", "semimajoraxis": "5", "semiminoraxis": "2"}
