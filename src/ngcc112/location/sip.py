"""Location from a SIP call: the dialplan's ``NGCC_GEO_*`` channel variables.

The shipped dialplan copies res_geolocation's ``GEOLOC_PROFILE(...)`` fields
(the PIDF-LO the caller's network sent with a ``Geolocation`` header) into
``NGCC_GEO_*`` variables; the daemon sees them as ``VarSet`` events. Recorded
values (``l_geolocation``, Asterisk 22)::

    NGCC_GEO_LOCATION   shape="Circle",crs="2d",pos="-6.2000 106.8166",radius="50"
    NGCC_GEO_EFFECTIVE  (the same, after the profile's overrides)
    NGCC_GEO_CONFIDENCE pdf="normal",value="95"
    NGCC_GEO_METHOD     GPS

(in the VarSet ``Value`` the quotes arrive escaped as ``\\"``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import datetime

from ngcc112 import names
from ngcc112.location.fix import InvalidFix, LocationFix

_ESCAPED = re.compile(r'\\(["\\])')


def _unescape_quotes(text: str) -> str:
    r"""``\"`` → ``"`` and ``\\`` → ``\``: for values handed over still VarSet-escaped.

    The AMI layer (``ngcc112.ami.message.unescape``) normally does this already.
    """
    return _ESCAPED.sub(r"\1", text)


_PARAM = re.compile(r'\s*([A-Za-z][\w.\-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^,]*)\s*(?:,|$)')


def parse_geo_params(text: str) -> dict[str, str]:
    """``shape="Circle",crs="2d",pos="-6.2 106.8"`` → ``{"shape": "Circle", ...}``.

    Keys are lower-cased with ``_`` and ``-`` removed (``semiMajorAxis`` and
    ``semi_major_axis`` read alike); quotes are taken off values. Whatever does
    not look like ``key=value`` is skipped.
    """
    if '\\"' in text:
        text = _unescape_quotes(text)
    params: dict[str, str] = {}
    for match in _PARAM.finditer(text):
        key = re.sub(r"[_\-]", "", match.group(1).lower())
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1].replace('\\"', '"')
        params.setdefault(key, value)
    return params


def parse_sip_geolocation(variables: Mapping[str, str], time: datetime) -> LocationFix | None:
    """The caller's position from the ``NGCC_GEO_*`` variables, or None.

    ``variables`` maps variable names to their (already unescaped) values; other
    variables may be present and are ignored. ``time`` is when the location
    arrived (the VarSet's time): PIDF-LO carries its own timestamp, but the
    dialplan does not copy it. None when there is no location or it cannot be
    read (the caller logs the raw values); this never raises.
    """
    try:
        return _parse(variables, time)
    except (InvalidFix, ValueError, TypeError, AttributeError, OverflowError):
        return None


def _parse(variables: Mapping[str, str], time: datetime) -> LocationFix | None:
    geo = {str(name): str(value) for name, value in variables.items() if str(name).startswith(names.VAR_GEO_PREFIX)}
    location = geo.get(names.VAR_GEO_EFFECTIVE, "").strip() or geo.get(names.VAR_GEO_LOCATION, "").strip()
    if not location:
        return None
    params = parse_geo_params(location)
    position = _position(params)
    if position is None:
        return None
    latitude, longitude, spread = position
    radius = _radius(params)
    if radius is None:
        radius = spread
    method = geo.get(names.VAR_GEO_METHOD, "").strip() or None
    raw = "\n".join(f"{name}={geo[name]}" for name in sorted(geo))
    return LocationFix(
        source="sip",
        latitude=latitude,
        longitude=longitude,
        time=time,
        radius_m=radius,
        confidence_pct=_confidence(geo.get(names.VAR_GEO_CONFIDENCE, "")),
        method=method,
        raw=raw,
    )


def _position(params: Mapping[str, str]) -> tuple[float, float, float | None] | None:
    """(latitude, longitude, enclosing radius for a polygon or None)."""
    if "pos" in params:
        lat_lon = _pair(params["pos"])
        return None if lat_lon is None else (*lat_lon, None)
    # Polygon / Prism: pos1, pos2 ... or a posList of "lat lon lat lon ...".
    points: list[tuple[float, float]] = []
    for key in sorted((k for k in params if re.fullmatch(r"pos\d+", k)), key=lambda k: int(k[3:])):
        pair = _pair(params[key])
        if pair is not None:
            points.append(pair)
    if not points:
        numbers = _floats(params.get("poslist", "") or params.get("points", ""))
        if numbers and len(numbers) % 2 == 0:
            points = list(zip(numbers[0::2], numbers[1::2], strict=True))
    if not points:
        return None
    lat = sum(p[0] for p in points) / len(points)
    lon = sum(p[1] for p in points) / len(points)
    spread = max(_distance_m((lat, lon), p) for p in points)
    return lat, lon, spread


def _pair(text: str) -> tuple[float, float] | None:
    numbers = _floats(text)
    if len(numbers) not in (2, 3):  # "lat lon" or "lat lon altitude" (crs 3d)
        return None
    return numbers[0], numbers[1]


def _floats(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.replace(",", " ").split()]
    except ValueError:
        return []
    return values if all(math.isfinite(v) for v in values) else []


def _radius(params: Mapping[str, str]) -> float | None:
    for key in ("radius", "semimajoraxis", "outerradius"):
        if key in params:
            match = re.match(r"\s*([0-9]+(?:\.[0-9]*)?)", params[key])
            if match:
                return float(match.group(1))
    return None


def _confidence(text: str) -> float | None:
    """``pdf="normal",value="95"`` (or a bare ``95``) → 95.0; None if absent or out of range."""
    if not text.strip():
        return None
    params = parse_geo_params(text)
    value = params.get("value", text if "=" not in text else "")
    try:
        number = float(value)
    except ValueError:
        return None
    return number if 0.0 <= number <= 100.0 else None


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in metres (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(min(1.0, math.sqrt(h)))
