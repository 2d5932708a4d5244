"""Tickets and their intake: what the operator's form sends and what the API answers about a ticket."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field
from pydantic.config import JsonDict

from ngcc112.panel.api_models.fields import Answer, Body, Storable, Typed
from ngcc112.tickets.intake_form import CATEGORIES, LIMITS, VERDICTS, N_


#: A draft field's longest text (the longest intake field; :mod:`ngcc112.tickets.drafts` cuts each to its own).
DRAFT_CHARS = max(LIMITS.values())


# -- requests ------------------------------------------------------------------------------


def _text(limit: int) -> Any:
    return Field(default="", json_schema_extra={"maxLength": limit})


def _coordinate(bound: int) -> Any:
    described: JsonDict = {"anyOf": [{"type": "number", "minimum": -bound, "maximum": bound}, {"type": "string"}]}
    return Field(default=None, json_schema_extra=lambda schema: schema.update(described))


def _choice(names: tuple[str, ...]) -> Any:
    return Field(default="", json_schema_extra={"enum": [*names, ""]})


class IntakeInput(Body):
    """Fields left out keep their saved value. Classifying needs verdict; normal also category,
    description and an address or coordinates; the others a closing note."""

    # The model takes each value's kind (text; a coordinate as a number or as typed); the rules it
    # describes (lists, ranges, lengths) are checked by the intake's own validate_intake, which names
    # every field at fault at once.

    messages = {
        "latitude": N_("Latitude must be between -90 and 90"),
        "longitude": N_("Longitude must be between -180 and 180"),
        "category": N_("Choose a category from the list"),
        "verdict": N_("Choose normal, ghost, prank or information"),
    }

    caller_name: Storable = _text(LIMITS["caller_name"])
    callback_number: Storable = _text(LIMITS["callback_number"])
    address: Storable = _text(LIMITS["address"])
    latitude: Typed | None = _coordinate(90)
    longitude: Typed | None = _coordinate(180)
    category: Storable = _choice(CATEGORIES)
    description: Storable = _text(LIMITS["description"])
    verdict: Storable = _choice(VERDICTS)
    note: Storable = _text(LIMITS["note"])

    def sent(self) -> dict[str, Any]:
        """The fields the request carried, as the intake's own validation reads them."""
        return self.model_dump(exclude_unset=True)


class Draft(Body):
    """The intake form as typed: any field, any text (each kept up to its field's bound)."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Storable]

    def typed(self) -> dict[str, str]:
        return dict(self.__pydantic_extra__)


class CloseNote(Body):
    messages = {"note": N_("Write a short closing note"), "note.string_too_long": N_("Too long")}

    note: Storable = Field(max_length=LIMITS["note"])


class TicketsQuery(Body):
    messages = {"limit": N_("Enter a number, e.g. -6.2000")}

    limit: int = Field(default=50, description="How many (newest first); brought into 1-200")


# -- answers -------------------------------------------------------------------------------


class TicketLocation(Answer):
    latitude: float | None
    longitude: float | None
    radius_m: float | None
    confidence_pct: float | None
    method: str | None
    raw: str


class Ticket(Answer):
    id: int
    linkedid: str
    state: str
    caller_number: str | None
    caller_name: str | None
    category: str | None
    verdict: str | None
    arrived_at: str
    answered_at: str | None
    silent_digit: str | None
    silent_call: bool
    intake: dict[str, Any]
    note: str | None
    location: TicketLocation | None
    history: list[dict[str, Any]]
    audit: list[dict[str, Any]]


class TicketResult(Answer):
    ticket: Ticket | None
    state: str
    action: str


class TicketList(Answer):
    tickets: list[Ticket]


class DraftSaved(Answer):
    ticket_id: int
    draft: dict[str, str] = Field(description="The whole draft now")
