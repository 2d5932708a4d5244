"""Where the caller is: the models of the location API (fixes, scores, the board map)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.config import JsonDict

from ngcc112.panel.api_models.fields import Answer, Body, Id, Storable, Typed
from ngcc112.tickets.locations import MAX_ADDRESS_CHARS

Source = Literal["sip", "aml", "manual"]
DATE_TIME: JsonDict = {"format": "date-time"}


def _(text: str) -> str:
    """Marks a msgid of the location catalog (translated when shown)."""
    return text


# -- requests ------------------------------------------------------------------------------


class AcceptFix(Body):
    messages = {"fix_id": _("Choose a position to accept")}

    fix_id: Id = Field(strict=True)


class ManualFixInput(Body):
    """Coordinates as typed, or as numbers."""

    # The location's own validation (validate_manual) reads the values and names every field at fault.

    messages = {
        "latitude": _("Latitude must be a number, e.g. -6.91470"),
        "latitude.missing": _("Enter the latitude, or click the caller's position on the map"),
        "longitude.missing": _("Enter the longitude, or click the caller's position on the map"),
        "longitude": _("Longitude must be a number, e.g. 107.60980"),
        "address": _("The address is too long (at most 500 characters)"),
        "radius_m": _("Accuracy must be a number of metres, 0 or more"),
    }

    latitude: Typed = Field(
        examples=["-6.91470"],
        description='Decimal degrees; a decimal comma is accepted; "lat, lon" here with an empty longitude is split',
    )
    longitude: Typed = Field(examples=["107.60980"])
    address: Storable = Field(default="", max_length=MAX_ADDRESS_CHARS)
    radius_m: Typed = Field(default="", description="Optional accuracy in metres")


# -- answers -------------------------------------------------------------------------------


class LocationFix(Answer):
    promised = ("id", "source", "latitude", "longitude", "accepted")

    id: int
    ticket_id: int
    source: Source = Field(
        description="SIP Geolocation (network), AML (handset), or typed by a person "
        "(operator, dispatcher or admin: created_by)"
    )
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    radius_m: float | None = Field(description="Uncertainty radius in metres")
    confidence_pct: float | None = Field(description="Probability (%) the caller is inside")
    method: str | None
    address: str | None = Field(description="What the operator typed")
    time: str = Field(description="When the position was determined", json_schema_extra=DATE_TIME)
    age_seconds: float = Field(description="Server time minus the fix's time")
    accepted: bool = Field(description="The ticket's position (at most one)")
    accepted_by: str | None
    accepted_at: str | None = Field(json_schema_extra=DATE_TIME)
    candidate: bool = Field(description="Automatic, not accepted: one click away")
    new: bool = Field(description='A candidate newer than the accepted position ("new position — accept?")')
    superseded: bool = Field(description="An operator's position replaced by a later one")
    created_by: str


class ScoreReason(Answer):
    score: Literal["ghost", "prank", "real"]
    code: str
    text: str = Field(description="In the request's language (id or en)")
    weight: float | None


class Scores(Answer):
    ghost: float | None = Field(ge=0, le=1)
    prank: float | None = Field(ge=0, le=1)
    reasons: list[ScoreReason]


class LocationState(Answer):
    ticket_id: int
    state: str
    server_now: str = Field(json_schema_extra=DATE_TIME)
    accepted: LocationFix | None
    candidates: list[int]
    fixes: list[LocationFix] = Field(description="Accepted first, then candidates newest first, then replaced ones")
    scores: Scores
    silent_call: bool = Field(description="The caller pressed 5 at the prompt")
    fix: LocationFix = Field(description="After accept/manual: the fix that is now the position")


class BoardIncident(Answer):
    ticket_id: int
    state: str
    category: str | None
    source: Source
    latitude: float
    longitude: float
    radius_m: float | None
    time: str = Field(json_schema_extra=DATE_TIME)
    age_seconds: float


class LocationBoard(Answer):
    server_now: str = Field(json_schema_extra=DATE_TIME)
    incidents: list[BoardIncident]
