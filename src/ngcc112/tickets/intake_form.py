"""The intake form: its fields, categories and limits, and the check of what the operator typed.

Pure rules, no I/O: :func:`validate_intake` turns the raw form into
:class:`IntakeData` or raises :class:`IntakeInvalid` naming every wrong field.
Validation messages are plain English and double as the msgids of the panel's
translation catalogs (marked with :func:`N_` so they can be extracted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from ngcc112.tickets.states import Verdict


def N_(message: str) -> str:
    """Mark a message for translation; it is translated where it is shown."""
    return message


#: Incident categories, in the order the form offers them.
CATEGORIES: tuple[str, ...] = (
    "fire",
    "traffic_accident",
    "medical",
    "crime",
    "disaster",
    "public_order",
    "utility",
    "other",
)
VERDICTS: tuple[str, ...] = tuple(v.value for v in Verdict)
#: Fields of the intake form, in form order.
FIELDS: tuple[str, ...] = (
    "caller_name",
    "callback_number",
    "address",
    "latitude",
    "longitude",
    "category",
    "description",
    "verdict",
    "note",
)
#: What goes into ``Ticket.intake`` (category, verdict and note have their own columns).
INTAKE_KEYS: tuple[str, ...] = ("caller_name", "callback_number", "address", "latitude", "longitude", "description")
LIMITS = {"caller_name": 160, "callback_number": 32, "address": 300, "description": 2000, "note": 1000}
_PHONE = re.compile(r"\+?[0-9]{3,20}")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


@dataclass(frozen=True, slots=True)
class IntakeData:
    caller_name: str = ""
    callback_number: str = ""
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None
    category: str = ""
    description: str = ""
    verdict: str = ""
    note: str = ""
    #: The fields that were sent: one left out keeps its saved value (a partial API update).
    provided: frozenset[str] = frozenset(FIELDS)

    def intake(self) -> dict[str, Any]:
        values = asdict(self)
        return {key: values[key] for key in INTAKE_KEYS if key in self.provided}


class IntakeInvalid(ValueError):
    """Some fields are wrong: ``errors`` maps field → message, ``values`` keeps what was typed."""

    def __init__(self, errors: dict[str, str], values: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors
        self.values = values


def _text(raw: Mapping[str, object], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    return str(value).strip()


def _coordinate(text: str, low: float, high: float, errors: dict[str, str], key: str, message: str) -> float | None:
    if not text:
        return None
    try:
        number = float(text.replace(",", "."))
    except ValueError:
        errors[key] = N_("Enter a number, e.g. -6.2000")
        return None
    if not math.isfinite(number) or not low <= number <= high:
        errors[key] = message
        return None
    return number


def validate_intake(raw: Mapping[str, object], *, final: bool = True) -> IntakeData:
    """Check the form; raise :class:`IntakeInvalid` with every problem at once.

    ``final``: the verdict is being given (classify); without it (a draft
    save) only the values that were typed are checked.
    """
    values = {key: _text(raw, key) for key in FIELDS}
    errors: dict[str, str] = {}
    for key, limit in LIMITS.items():
        if len(values[key]) > limit:
            errors[key] = N_("Too long")
        elif "\x00" in values[key]:
            errors[key] = N_("Contains a character that is not allowed")
    for key in ("caller_name", "callback_number", "address"):
        if key not in errors and any(c in values[key] for c in "\r\n"):
            errors[key] = N_("Must be on one line")
    number = _PHONE_SEPARATORS.sub("", values["callback_number"])
    if number and "callback_number" not in errors and not _PHONE.fullmatch(number):
        errors["callback_number"] = N_("Enter a phone number: digits only, optionally starting with +")
    latitude = _coordinate(
        values["latitude"], -90.0, 90.0, errors, "latitude", N_("Latitude must be between -90 and 90")
    )
    longitude = _coordinate(
        values["longitude"], -180.0, 180.0, errors, "longitude", N_("Longitude must be between -180 and 180")
    )
    if (latitude is None) != (longitude is None) and not ({"latitude", "longitude"} & errors.keys()):
        missing = "longitude" if longitude is None else "latitude"
        errors[missing] = N_("Give both latitude and longitude, or neither")
    category, verdict = values["category"], values["verdict"]
    if category and category not in CATEGORIES:
        errors["category"] = N_("Choose a category from the list")
    if verdict and verdict not in VERDICTS:
        errors["verdict"] = N_("Choose normal, ghost, prank or information")
    if final:
        if not verdict:
            errors["verdict"] = N_("Choose the call type")
        elif verdict == Verdict.NORMAL.value:
            if not category and "category" not in errors:
                errors["category"] = N_("Choose the incident category")
            if not values["address"] and latitude is None and "address" not in errors and "latitude" not in errors:
                errors["address"] = N_("Give the incident location: an address or coordinates")
            if not values["description"] and "description" not in errors:
                errors["description"] = N_("Describe what happened")
        elif verdict in VERDICTS and not values["note"] and "note" not in errors:
            errors["note"] = N_("Write a short closing note")
    if errors:
        raise IntakeInvalid(errors, values)
    provided = frozenset(key for key in FIELDS if key in raw)
    if "latitude" in provided or "longitude" in provided:
        provided |= {"latitude", "longitude"}  # a position is both or neither
    return IntakeData(
        caller_name=values["caller_name"],
        callback_number=number,
        address=values["address"],
        latitude=latitude,
        longitude=longitude,
        category=category,
        description=values["description"],
        verdict=verdict,
        note=values["note"],
        provided=provided,
    )
