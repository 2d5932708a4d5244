"""The intake form's values (pure): what was typed, else the saved intake, else what the call told us."""

from __future__ import annotations

import re
from typing import Any

from ngcc112.tickets import intake_form

_DIALLABLE = re.compile(r"\+?[0-9]{3,20}")


def intake_values(ticket: dict[str, Any], form_values: dict[str, str] | None) -> dict[str, str]:
    """The intake form's values: what was typed (after an error), else the saved intake,
    else what the call told us (caller ID, name, position)."""
    if form_values is not None:  # what was typed (a draft, or a refused submit) over the rest
        base = intake_values(ticket, None)
        return {
            key: str(form_values[key] if form_values.get(key) is not None else base[key]) for key in intake_form.FIELDS
        }
    saved = ticket.get("intake") or {}
    location = ticket.get("location") or {}
    number = ticket.get("caller_number") or ""

    def pick(key: str, fallback: object = None) -> str:
        value = saved.get(key)
        if value in (None, ""):
            value = fallback
        return "" if value is None else str(value)

    return {
        "caller_name": pick("caller_name", ticket.get("caller_name")),
        "callback_number": pick("callback_number", number if _DIALLABLE.fullmatch(number) else None),
        "address": pick("address"),
        "latitude": pick("latitude", location.get("latitude")),
        "longitude": pick("longitude", location.get("longitude")),
        "category": ticket.get("category") or "",
        "description": pick("description"),
        "verdict": ticket.get("verdict") or pick("draft_verdict"),
        "note": ticket.get("note") or pick("draft_note"),
    }
