"""Advanced Mobile Location messages, HTTPS form and SMS form: parsed, never raising."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ngcc112.location.aml import MAX_AML_BYTES, parse_aml, parse_aml_http, parse_aml_sms

RECEIVED = datetime(2026, 11, 28, 6, 0, 5, tzinfo=UTC)
CALL_TIME_MS = 1_795_845_600_000  # 2026-11-28 06:00:00 UTC

COMPLETE_HTTP = {
    "v": "3",
    "emergency_number": "112",
    "source": "call",
    "time": str(CALL_TIME_MS + 4_000),
    "location_latitude": "-6.175392",
    "location_longitude": "106.827153",
    "location_time": str(CALL_TIME_MS + 2_500),
    "location_altitude": "12.0",
    "location_floor": "",
    "location_source": "gps",
    "location_accuracy": "8.5",
    "location_vertical_accuracy": "3.0",
    "location_confidence": "68",
    "location_bearing": "0",
    "location_speed": "0",
    "device_number": "+6281234567890",
    "device_model": "Pixel 8",
    "device_imei": "356708041746734",
    "device_imsi": "510101234567890",
    "cell_home_mcc": "510",
    "cell_home_mnc": "10",
    "cell_network_mcc": "510",
    "cell_network_mnc": "10",
    "cell_id": "12345678",
    "beps_version": "1",
}

STANDARD_SMS = (
    'A"ML=1;lt=+55.74317;lg=-004.26881;rd=50;top=20130717141935;lc=68;pm=G;'
    "si=234302543446355;ei=356708041746734;mcc=234;mnc=30;ml=124"
)


def form(**overrides: str | None) -> str:
    fields = {**COMPLETE_HTTP, **overrides}
    return urlencode({k: v for k, v in fields.items() if v is not None})


# --- HTTPS form ---------------------------------------------------------------------


def test_a_complete_http_message() -> None:
    message = parse_aml_http(form().encode(), RECEIVED)
    assert message.errors == ()
    assert message.form == "http"
    assert message.number == "+6281234567890"
    assert message.emergency_number == "112"
    assert message.fields["device_imei"] == "356708041746734"
    assert message.fields["cell_id"] == "12345678"
    assert message.sent_at == datetime(2026, 11, 28, 6, 0, 4, tzinfo=UTC)
    fix = message.fix
    assert fix is not None
    assert (fix.source, fix.latitude, fix.longitude) == ("aml", -6.175392, 106.827153)
    assert (fix.radius_m, fix.confidence_pct, fix.method) == (8.5, 68.0, "gps")
    assert fix.time == datetime(2026, 11, 28, 6, 0, 2, 500_000, tzinfo=UTC)
    assert message.raw == form()


@pytest.mark.parametrize("number", ["+6281234567890", "6281234567890", "081234567890"])
def test_the_device_number_is_canonical(number: str) -> None:
    assert parse_aml_http(form(device_number=number), RECEIVED).number == "+6281234567890"


def test_a_plus_sent_unencoded_reads_as_a_space_and_still_normalises() -> None:
    body = form().replace("device_number=%2B62", "device_number=+62")
    assert parse_aml_http(body, RECEIVED).number == "+6281234567890"
    foreign = form(device_number=None) + "&device_number=+447700900123"
    message = parse_aml_http(foreign, RECEIVED)
    assert message.number == "+447700900123"
    assert message.fields["device_number"] == "+447700900123"


def test_missing_coordinates_give_no_fix_and_say_so() -> None:
    message = parse_aml_http(form(location_latitude=None), RECEIVED)
    assert message.fix is None
    assert "no location_latitude: no position" in message.errors
    assert message.number == "+6281234567890"  # still worth keeping: who called
    assert message.fields["location_longitude"] == "106.827153"


def test_missing_location_time_falls_back_to_time_then_to_receipt() -> None:
    message = parse_aml_http(form(location_time=None), RECEIVED)
    assert message.fix is not None and message.fix.time == message.sent_at
    message = parse_aml_http(form(location_time=None, time=None), RECEIVED)
    assert message.fix is not None and message.fix.time == RECEIVED
    assert "no location_time or time: the fix is dated when it was received" in message.errors


def test_a_time_in_seconds_is_read_as_seconds_and_noted() -> None:
    message = parse_aml_http(form(location_time=str(CALL_TIME_MS // 1000)), RECEIVED)
    assert message.fix is not None
    assert message.fix.time == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert "location_time looks like seconds, not milliseconds; read as seconds" in message.errors


@pytest.mark.parametrize(
    ("overrides", "error", "has_fix"),
    [
        ({"location_latitude": "abc"}, "location_latitude is not a number: 'abc'", False),
        ({"location_longitude": "inf"}, "location_longitude is not a finite number: 'inf'", False),
        ({"location_latitude": "91.5"}, "no usable position: latitude must be between", False),
        ({"location_longitude": "-180.5"}, "no usable position: longitude must be between", False),
        ({"location_accuracy": "-3"}, "accuracy/radius is negative (-3); left unknown", True),
        ({"location_accuracy": "wide"}, "location_accuracy is not a number: 'wide'", True),
        ({"location_confidence": "250"}, "confidence 250 is not a percentage; left unknown", True),
        ({"location_time": "yesterday"}, "location_time is not a whole number", True),
        ({"time": "-5"}, "time is negative: -5", True),
        ({"location_time": "9" * 30}, "location_time is out of range", True),
        ({"device_number": "anonymous"}, "no device_number: cannot tell which caller", True),
    ],
)
def test_wrong_types_are_listed_not_raised(
    overrides: dict[str, str], error: str, has_fix: bool
) -> None:
    message = parse_aml_http(form(**overrides), RECEIVED)
    assert any(e.startswith(error) for e in message.errors), message.errors
    assert (message.fix is not None) == has_fix


def test_a_repeated_field_keeps_the_first_value() -> None:
    message = parse_aml_http(form() + "&location_latitude=1.0", RECEIVED)
    assert message.fix is not None and message.fix.latitude == -6.175392
    assert "field 'location_latitude' repeated; the first value is kept" in message.errors


@pytest.mark.parametrize(
    "body", [b"", b"garbage", b"\xff\xfe\x00\x01", b"&&&===", "<xml>?</xml>", '{"lat": 1}']
)
def test_garbage_gives_a_message_without_a_fix(body: bytes | str) -> None:
    message = parse_aml(body, RECEIVED)
    assert message.fix is None
    assert message.errors
    assert message.received_at == RECEIVED


def test_invalid_utf8_is_replaced_and_noted() -> None:
    message = parse_aml_http(form().encode() + b"&device_model=\xff", RECEIVED)
    assert message.fix is not None
    assert "message is not valid UTF-8; bad bytes replaced" in message.errors


def test_an_oversized_message_is_capped_and_not_parsed() -> None:
    body = form().encode() + b"&padding=" + b"x" * MAX_AML_BYTES
    message = parse_aml(body, RECEIVED, sender="081234567890")
    assert message.fix is None
    assert message.fields == {}
    assert message.errors == (
        f"message is {len(body)} bytes, over the {MAX_AML_BYTES}-byte limit; not parsed",
    )
    assert len(message.raw.encode()) == MAX_AML_BYTES
    assert message.raw.startswith("v=3&emergency_number=112")
    assert message.number == "+6281234567890"


def test_exactly_at_the_limit_is_parsed() -> None:
    body = form().encode()
    body += b"&padding=" + b"x" * (MAX_AML_BYTES - len(body) - len(b"&padding="))
    assert len(body) == MAX_AML_BYTES
    assert parse_aml(body, RECEIVED).fix is not None


def test_too_many_fields_are_refused_in_one_line() -> None:
    message = parse_aml_http("&".join(f"f{i}=1" for i in range(500)), RECEIVED)
    assert "more than 200 fields; none read" in message.errors


def test_something_that_is_not_text_at_all() -> None:
    message = parse_aml(12345, RECEIVED)  # type: ignore[arg-type]
    assert message.fix is None
    assert "message is a int, not text" in message.errors


# --- SMS form -----------------------------------------------------------------------


def test_the_standard_sms_example() -> None:
    message = parse_aml(STANDARD_SMS, RECEIVED, sender="+447700900123")
    assert message.form == "sms"
    assert message.errors == ()
    assert message.number == "+447700900123"
    assert message.fields["si"] == "234302543446355"
    assert message.fields["ml"] == "124"
    fix = message.fix
    assert fix is not None
    assert (fix.latitude, fix.longitude, fix.radius_m) == (55.74317, -4.26881, 50.0)
    assert (fix.confidence_pct, fix.method) == (68.0, "gnss")
    assert fix.time == datetime(2013, 7, 17, 14, 19, 35, tzinfo=UTC)
    assert message.raw == STANDARD_SMS


@pytest.mark.parametrize(("letter", "method"), [("G", "gnss"), ("W", "wifi"), ("C", "cell")])
def test_sms_positioning_methods(letter: str, method: str) -> None:
    fix = parse_aml_sms(STANDARD_SMS.replace("pm=G", f"pm={letter}"), RECEIVED, "0812").fix
    assert fix is not None and fix.method == method


def test_sms_without_a_position() -> None:
    text = 'A"ML=1;top=20261128060003;lc=0;pm=N;si=510101234567890;ei=356708041746734;ml=70'
    message = parse_aml_sms(text, RECEIVED, sender="6281234567890")
    assert message.fix is None
    assert "no lt: no position" in message.errors
    assert message.number == "+6281234567890"
    assert message.sent_at == datetime(2026, 11, 28, 6, 0, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("replace", "error", "has_fix"),
    [
        (("lt=+55.74317", "lt=north"), "lt is not a number: 'north'", False),
        (("top=20130717141935", "top=2013-07-17"), "top is not a UTC time YYYYMMDDhhmmss", True),
        (("top=20130717141935", "top=20131317141935"), "top is not a UTC time", True),
        (("pm=G", "pm=X"), "unknown positioning method pm='X'", True),
        (("rd=50", "rd=-1"), "accuracy/radius is negative", True),
        (("lc=68", "lc=-68"), "confidence -68 is not a percentage", True),
        ((";mcc=234", ";mcc"), "not a name=value pair: 'mcc'", True),
    ],
)
def test_sms_problems_are_listed(replace: tuple[str, str], error: str, has_fix: bool) -> None:
    message = parse_aml_sms(STANDARD_SMS.replace(*replace), RECEIVED, "0812")
    assert any(e.startswith(error) for e in message.errors), message.errors
    assert (message.fix is not None) == has_fix


def test_a_bad_top_dates_the_fix_at_receipt() -> None:
    fix = parse_aml_sms(
        STANDARD_SMS.replace("top=20130717141935", "top=soon"), RECEIVED, "0812"
    ).fix
    assert fix is not None and fix.time == RECEIVED


def test_sms_that_is_not_aml() -> None:
    message = parse_aml_sms("Tolong! Kebakaran di Jl. Sudirman", RECEIVED, "081234567890")
    assert message.fix is None
    assert 'not an AML SMS: it does not start with A"ML=' in message.errors


def test_an_sms_without_sender_cannot_name_the_caller() -> None:
    message = parse_aml_sms(STANDARD_SMS, RECEIVED)
    assert message.number == ""
    assert "no sender number: cannot tell which caller this is" in message.errors
    assert message.fix is not None


# --- never raising -------------------------------------------------------------------

field_names = st.sampled_from([*COMPLETE_HTTP, "lt", "lg", "rd", "top", "lc", "pm", "x"])
values = st.one_of(
    st.text(max_size=30),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers().map(str),
)


@given(st.text(max_size=2000))
@settings(max_examples=300)
def test_arbitrary_text_never_raises(text: str) -> None:
    for parse in (parse_aml, parse_aml_http, parse_aml_sms):
        message = parse(text, RECEIVED)
        assert isinstance(message.errors, tuple)
        assert message.fix is None or -90 <= message.fix.latitude <= 90


@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(body: bytes) -> None:
    assert parse_aml(body, RECEIVED).raw is not None
    assert parse_aml(b'A"ML=1;' + body, RECEIVED).form == "sms"


@given(st.dictionaries(field_names, values, max_size=12), st.booleans())
def test_arbitrary_field_values_never_raise(fields: dict[str, str], sms: bool) -> None:
    sms_text = 'A"ML=1;' + ";".join(f"{k}={v}" for k, v in fields.items())
    text = sms_text if sms else urlencode(fields)
    message = parse_aml(text, RECEIVED, sender="081234567890")
    if message.fix is not None:
        assert message.fix.radius_m is None or message.fix.radius_m >= 0
        assert message.fix.confidence_pct is None or 0 <= message.fix.confidence_pct <= 100
