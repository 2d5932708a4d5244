"""The operator's own position, checked (pure): latitude, longitude (or a pasted pair), address and
radius; :class:`ManualInvalid` carries the per-field messages and the values as typed."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ngcc112.panel.location.labels import _
from ngcc112.panel.state import GETTEXT
from ngcc112.tickets.locations import (
    MAX_ADDRESS_CHARS,
)

FIELDS = ("latitude", "longitude", "address")
_NUMBER = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)")
_PAIR = re.compile(r"\s*([+-]?\d+(?:\.\d+)?)\s*[,;\s]\s*([+-]?\d+(?:\.\d+)?)\s*")


class ManualInvalid(ValueError):
    def __init__(self, errors: dict[str, str], values: dict[str, str]) -> None:
        super().__init__(", ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors, self.values = errors, values


@dataclass(frozen=True, slots=True)
class ManualFix:
    latitude: float
    longitude: float
    address: str | None
    radius_m: float | None


def _number(text: str) -> float | None:
    value = text.strip().replace(" ", "")
    if not _NUMBER.fullmatch(value):
        return None
    if "," in value and "." not in value:
        value = value.replace(",", ".")  # Indonesian decimal comma: -6,9147
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def validate_manual(raw: dict[str, Any]) -> ManualFix:
    """The operator's position, or :class:`ManualInvalid` with one message per field (msgids)
    and the values exactly as typed."""
    values = {key: "" if raw.get(key) is None else str(raw.get(key)) for key in (*FIELDS, "radius_m")}
    lat_text, lon_text = values["latitude"].strip(), values["longitude"].strip()
    pair = _PAIR.fullmatch(lat_text) if lat_text and not lon_text else None
    if pair:  # "-6.9147, 107.6098" pasted into the latitude field
        lat_text, lon_text = pair.group(1), pair.group(2)
    errors: dict[str, str] = {}
    lat = lon = None
    if not lat_text:
        errors["latitude"] = _("Enter the latitude, or click the caller's position on the map")
    else:
        lat = _number(lat_text)
        if lat is None:
            errors["latitude"] = _("Latitude must be a number, e.g. -6.91470")
    if not lon_text:
        errors["longitude"] = _("Enter the longitude, or click the caller's position on the map")
    else:
        lon = _number(lon_text)
        if lon is None:
            errors["longitude"] = _("Longitude must be a number, e.g. 107.60980")
    if lat is not None and not -90 <= lat <= 90:
        errors["latitude"] = (
            _("Latitude must be between -90 and 90 (did you swap latitude and longitude?)")
            if lon is not None and -90 <= lon <= 90 and -180 <= lat <= 180
            else _("Latitude must be between -90 and 90")
        )
    if lon is not None and not -180 <= lon <= 180:
        errors["longitude"] = _("Longitude must be between -180 and 180")
    if lat == 0 and lon == 0 and not errors:
        errors["latitude"] = _("0, 0 is not a place anyone calls from: check the coordinates")
    address = values["address"].strip()
    if len(address) > MAX_ADDRESS_CHARS:
        errors["address"] = _("The address is too long (at most 500 characters)")
    radius = None
    if values["radius_m"].strip():
        radius = _number(values["radius_m"])
        if radius is None or radius < 0:
            errors["radius_m"] = _("Accuracy must be a number of metres, 0 or more")
    if errors:
        raise ManualInvalid(errors, values)
    assert lat is not None and lon is not None  # no errors: both parsed
    return ManualFix(lat, lon, address or None, radius)


def invalid_json(request: web.Request, exc: ManualInvalid) -> web.Response:
    translate = request[GETTEXT]
    return web.json_response(
        {
            "error": translate(_("Please correct the marked fields")),
            "code": "invalid",
            "errors": {k: translate(v) for k, v in exc.errors.items()},
            "values": exc.values,
        },
        status=422,
    )
