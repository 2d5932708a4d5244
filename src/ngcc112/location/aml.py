"""Advanced Mobile Location (ETSI TS 103 625): the handset's own position.

Two forms reach the center while (or just after) someone calls 112:

* the HTTPS POST of Android's Emergency Location Service: an
  ``application/x-www-form-urlencoded`` body of name=value pairs
  (``v``, ``emergency_number``, ``time`` in ms since the epoch,
  ``location_latitude``, ``location_longitude``, ``location_time``,
  ``location_accuracy`` in metres, ``location_confidence`` in %,
  ``location_source``, ``device_number``, ``device_imei``, ``cell_*`` ...);
* the SMS text: ``A"ML=1;lt=+55.74317;lg=-004.26881;rd=50;top=20130717141935;
  lc=68;pm=G;si=…;ei=…;mcc=234;mnc=30;ml=124`` (``rd`` radius in m,
  ``top`` time of positioning, UTC ``YYYYMMDDhhmmss``, ``lc`` confidence in %,
  ``pm`` positioning method: G=GNSS, W=Wi-Fi, C=cell, N=none).

Both parse into an :class:`AmlMessage`. Parsing never raises: a partial or
malformed message still yields a message, with ``fix`` None when there is no
usable position, every problem listed in ``errors`` and the text kept in
``raw``. The HTTP endpoint answers 2xx whatever came, and stores every message.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from urllib.parse import parse_qsl

from ngcc112.location.fix import InvalidFix, LocationFix
from ngcc112.location.numbers import canonical_number

#: The most an AML message may hold, in bytes (UTF-8). Real ones are well under
#: 2 KiB (an SMS is 160 characters); anything larger is kept only up to this size
#: and not parsed.
MAX_AML_BYTES = 16 * 1024
#: The most name=value pairs read from one message.
MAX_AML_FIELDS = 200

AmlForm = Literal["http", "sms"]

#: The SMS ``pm`` letters, and the method names the fix gets for them.
SMS_METHODS: dict[str, str] = {"G": "gnss", "W": "wifi", "C": "cell", "N": "none"}

_SMS_HEADER = re.compile(r'^\s*A"?ML=')
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Epoch values below this are seconds, not milliseconds (10^11 ms is 1973).
_MS_THRESHOLD = 100_000_000_000


@dataclass(frozen=True, slots=True)
class AmlMessage:
    """One received AML message, parsed as far as it goes.

    ``number`` is the device's number in canonical form (``+62…``; ``""`` if
    unknown); ``fields`` every name=value pair as received (first value of a
    repeated name); ``errors`` what was wrong or missing, in plain English;
    ``raw`` the text received (cut at :data:`MAX_AML_BYTES`).
    ``sent_at`` is the message's own timestamp (``time`` / ``top``), if readable.
    """

    number: str
    fix: LocationFix | None
    fields: dict[str, str]
    errors: tuple[str, ...]
    raw: str
    form: AmlForm = "http"
    received_at: datetime | None = None
    sent_at: datetime | None = None
    emergency_number: str = ""


def parse_aml(body: bytes | str, received_at: datetime, sender: str = "") -> AmlMessage:
    """Parse either form: the SMS text if it starts with ``A"ML=``, the HTTPS form otherwise."""
    head = body[:16] if isinstance(body, bytes | bytearray | str) else b""
    if isinstance(head, bytes | bytearray):
        head = bytes(head).decode("utf-8", errors="replace")
    if _SMS_HEADER.match(head):
        return parse_aml_sms(body, received_at, sender)
    return parse_aml_http(body, received_at, sender)


def parse_aml_http(body: bytes | str, received_at: datetime, sender: str = "") -> AmlMessage:
    """Parse the HTTPS POST body of Android ELS / AML over HTTP.

    ``sender`` is a number known from elsewhere (used only if the body has no
    ``device_number``); ``received_at`` is when the endpoint got it.
    """
    text, errors = _decode(body)
    if text is None:
        return _oversized(body, "http", received_at, sender, errors)
    fields: dict[str, str] = {}
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            max_num_fields=MAX_AML_FIELDS,
            errors="replace",
        )
    except ValueError:
        errors.append(f"more than {MAX_AML_FIELDS} fields; none read")
        pairs = []
    for name, value in pairs:
        name = name.strip()
        if name in fields:
            errors.append(f"field {name!r} repeated; the first value is kept")
            continue
        if name == "device_number" and value[:1] == " ":
            value = "+" + value.lstrip()  # an unencoded "+" arrives as a space
        fields[name] = value.strip()
    if not fields:
        errors.append("no name=value fields found")

    sent_at = _epoch_field(fields, "time", errors)
    fix_time = _epoch_field(fields, "location_time", errors) or sent_at
    if fix_time is None:
        errors.append("no location_time or time: the fix is dated when it was received")
        fix_time = received_at
    number = canonical_number(fields.get("device_number", "")) or canonical_number(sender)
    if not number:
        errors.append("no device_number: cannot tell which caller this is")

    fix = _fix(
        latitude=_number_field(fields, "location_latitude", errors, required=True),
        longitude=_number_field(fields, "location_longitude", errors, required=True),
        radius=_number_field(fields, "location_accuracy", errors),
        confidence=_number_field(fields, "location_confidence", errors),
        time=fix_time,
        method=fields.get("location_source") or None,
        raw=text,
        errors=errors,
    )
    return AmlMessage(
        number=number,
        fix=fix,
        fields=fields,
        errors=tuple(errors),
        raw=text,
        form="http",
        received_at=received_at,
        sent_at=sent_at,
        emergency_number=fields.get("emergency_number", ""),
    )


def parse_aml_sms(text: bytes | str, received_at: datetime, sender: str = "") -> AmlMessage:
    """Parse the AML SMS body. ``sender`` is the SMS originating address (the caller's number)."""
    decoded, errors = _decode(text)
    if decoded is None:
        return _oversized(text, "sms", received_at, sender, errors)
    body = decoded.strip()
    if not _SMS_HEADER.match(body):
        errors.append('not an AML SMS: it does not start with A"ML=')
    fields: dict[str, str] = {}
    for part in body.split(";")[:MAX_AML_FIELDS]:
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            if part.strip():
                errors.append(f"not a name=value pair: {part.strip()[:40]!r}")
            continue
        if name in fields:
            errors.append(f"field {name!r} repeated; the first value is kept")
            continue
        fields[name] = value.strip()

    sent_at = _sms_time(fields.get("top", ""), errors)
    fix_time = sent_at
    if fix_time is None:
        fix_time = received_at
        errors.append("no readable top (time of positioning): the fix is dated when received")
    method_letter = fields.get("pm", "")
    method = SMS_METHODS.get(method_letter.upper()) if method_letter else None
    if method_letter and method is None:
        errors.append(f"unknown positioning method pm={method_letter[:10]!r}")
        method = method_letter[:20]
    number = canonical_number(sender)
    if not number:
        errors.append("no sender number: cannot tell which caller this is")

    fix = _fix(
        latitude=_number_field(fields, "lt", errors, required=True),
        longitude=_number_field(fields, "lg", errors, required=True),
        radius=_number_field(fields, "rd", errors),
        confidence=_number_field(fields, "lc", errors),
        time=fix_time,
        method=method,
        raw=body,
        errors=errors,
    )
    return AmlMessage(
        number=number,
        fix=fix,
        fields=fields,
        errors=tuple(errors),
        raw=body,
        form="sms",
        received_at=received_at,
        sent_at=sent_at,
    )


# --- helpers ---------------------------------------------------------------


def _decode(body: bytes | str) -> tuple[str | None, list[str]]:
    """The text, or None when it is over the size limit (errors say so)."""
    errors: list[str] = []
    if isinstance(body, bytes | bytearray):
        size = len(body)
        if size > MAX_AML_BYTES:
            errors.append(f"message is {size} bytes, over the {MAX_AML_BYTES}-byte limit; not parsed")
            return None, errors
        text = bytes(body).decode("utf-8", errors="replace")
        if "\ufffd" in text:
            errors.append("message is not valid UTF-8; bad bytes replaced")
        return text, errors
    if not isinstance(body, str):
        errors.append(f"message is a {type(body).__name__}, not text")
        return "", errors
    size = len(body.encode("utf-8", errors="replace"))
    if size > MAX_AML_BYTES:
        errors.append(f"message is {size} bytes, over the {MAX_AML_BYTES}-byte limit; not parsed")
        return None, errors
    return body, errors


def _oversized(body: bytes | str, form: AmlForm, received_at: datetime, sender: str, errors: list[str]) -> AmlMessage:
    data = body.encode("utf-8", errors="replace") if isinstance(body, str) else bytes(body)
    raw = data[:MAX_AML_BYTES].decode("utf-8", errors="replace")
    return AmlMessage(
        number=canonical_number(sender),
        fix=None,
        fields={},
        errors=tuple(errors),
        raw=raw,
        form=form,
        received_at=received_at,
    )


def _number_field(fields: Mapping[str, str], name: str, errors: list[str], *, required: bool = False) -> float | None:
    text = fields.get(name, "")
    if not text:
        if required:
            errors.append(f"no {name}: no position")
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(f"{name} is not a number: {text[:40]!r}")
        return None
    if not math.isfinite(value):
        errors.append(f"{name} is not a finite number: {text[:40]!r}")
        return None
    return value


def _epoch_field(fields: Mapping[str, str], name: str, errors: list[str]) -> datetime | None:
    text = fields.get(name, "")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        errors.append(f"{name} is not a whole number of milliseconds: {text[:40]!r}")
        return None
    if value < 0:
        errors.append(f"{name} is negative: {value}")
        return None
    if value < _MS_THRESHOLD:
        errors.append(f"{name} looks like seconds, not milliseconds; read as seconds")
        value *= 1000
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        errors.append(f"{name} is out of range: {text[:40]!r}")
        return None


def _sms_time(text: str, errors: list[str]) -> datetime | None:
    if not text:
        return None
    try:
        if not re.fullmatch(r"\d{14}", text):
            raise ValueError
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        errors.append(f"top is not a UTC time YYYYMMDDhhmmss: {text[:40]!r}")
        return None


def _fix(
    *,
    latitude: float | None,
    longitude: float | None,
    radius: float | None,
    confidence: float | None,
    time: datetime,
    method: str | None,
    raw: str,
    errors: list[str],
) -> LocationFix | None:
    if latitude is None or longitude is None:
        return None
    if radius is not None and radius < 0:
        errors.append(f"accuracy/radius is negative ({radius:g}); left unknown")
        radius = None
    if confidence is not None and not 0 <= confidence <= 100:
        errors.append(f"confidence {confidence:g} is not a percentage; left unknown")
        confidence = None
    try:
        return LocationFix(
            source="aml",
            latitude=latitude,
            longitude=longitude,
            time=time,
            radius_m=radius,
            confidence_pct=confidence,
            method=method,
            raw=raw,
        )
    except InvalidFix as exc:
        errors.append(f"no usable position: {exc}")
        return None
