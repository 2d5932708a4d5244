"""One position report for a caller, whatever brought it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

#: Where a fix came from: the SIP Geolocation header (PIDF-LO via res_geolocation),
#: an AML message (HTTPS or SMS), or an operator typing it in.
FixSource = Literal["sip", "aml", "manual"]
FIX_SOURCES: tuple[FixSource, ...] = ("sip", "aml", "manual")


class InvalidFix(ValueError):
    """The values cannot describe a position on Earth; the message says which and why."""


@dataclass(frozen=True, slots=True)
class LocationFix:
    """A position (WGS 84) with its uncertainty.

    ``radius_m`` is the uncertainty radius in metres and ``confidence_pct`` the
    probability (in %) that the caller is inside it; either may be unknown.
    ``method`` is how the device found it (``GPS``, ``gnss``, ``wifi``, ``cell``...).
    ``raw`` is the text it was parsed from, kept for the audit trail.
    """

    source: FixSource
    latitude: float
    longitude: float
    time: datetime
    radius_m: float | None = None
    confidence_pct: float | None = None
    method: str | None = None
    raw: str = ""

    def __post_init__(self) -> None:
        if self.source not in FIX_SOURCES:
            raise InvalidFix(f"source must be one of {FIX_SOURCES}, got {self.source!r}")
        _check_number("latitude", self.latitude, -90.0, 90.0)
        _check_number("longitude", self.longitude, -180.0, 180.0)
        if self.radius_m is not None:
            _check_number("radius_m", self.radius_m, 0.0, math.inf)
        if self.confidence_pct is not None:
            _check_number("confidence_pct", self.confidence_pct, 0.0, 100.0)
        if not isinstance(self.time, datetime) or self.time.utcoffset() is None:
            raise InvalidFix(f"time must be a timezone-aware datetime, got {self.time!r}")

    @property
    def is_automatic(self) -> bool:
        """Came from the network or the handset, not from an operator."""
        return self.source != "manual"

    def same_position(self, other: LocationFix) -> bool:
        """The same report again: position, uncertainty, time and source all equal."""
        return (
            self.source,
            self.latitude,
            self.longitude,
            self.radius_m,
            self.time,
        ) == (other.source, other.latitude, other.longitude, other.radius_m, other.time)


def _check_number(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidFix(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise InvalidFix(f"{name} must be a finite number, got {value!r}")
    if not low <= value <= high:
        bounds = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise InvalidFix(f"{name} must be {bounds}, got {value!r}")
