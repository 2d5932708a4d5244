"""Where the caller is: the position page, its fragment and its forms, and what the JSON API
(:mod:`.api`) shares with them (access, presenting, the manual position's validation, use cases).

* ``GET  /panel/tickets/{id}/location`` — the fixes as an HTML fragment (what ``map.js``
  puts beside the map and draws on it).
* ``GET  /tickets/{id}/location`` and the form posts ``…/location/accept`` and
  ``…/location/manual`` — the same without JavaScript, with the panel's CSRF token.

Who may: operators, dispatchers and admins on every ticket; agency users only on tickets
dispatched to their agency (anything else is 404, as :func:`get_ticket_for` decides).
Labels are in ``locale/<lang>/LC_MESSAGES/location.po``.
"""

from __future__ import annotations

import gettext
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ngcc112.panel import form_memory
from ngcc112.panel.auth import error_response, require, wants_json
from ngcc112.panel.bodies import parse_id
from ngcc112.panel.i18n import LANGUAGES, add_domain, load_domain
from ngcc112.panel.state import GETTEXT, LANG, PANEL, USER, ticket_view
from ngcc112.panel.views import render, safe_next
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.audit_trail import actor_roles
from ngcc112.tickets.locations import (
    AML_ACTOR,
    MAX_ADDRESS_CHARS,
    SIP_ACTOR,
    FixView,
    LocationError,
    Locations,
)
from ngcc112.tickets.models import Ticket, User
from ngcc112.tickets.positions import board_positions, find_ticket, position_may_change
from ngcc112.tickets.states import Role

routes = web.RouteTableDef()
DOMAIN = "location"
#: Everyone who handles a ticket; agency users are narrowed to their own tickets.
ROLES = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value, Role.AGENCY.value)
#: The board map is the room's view: not for agency users.
BOARD_ROLES = (Role.OPERATOR.value, Role.DISPATCHER.value, Role.ADMIN.value)
#: A fix time this far ahead of our clock means the device's clock is wrong; say so.
CLOCK_AHEAD_SECONDS = 60
SOURCE_LABELS = {"sip": "SIP (network)", "aml": "AML (handset)", "manual": "Typed by an operator"}
SOURCE_SHORT = {"sip": "SIP", "aml": "AML", "manual": "Manual"}
#: A typed position says who typed it: the typist's role (from their account).
MANUAL_BY_ROLE = {
    "operator": "Typed by an operator",
    "dispatcher": "Typed by a dispatcher",
    "admin": "Typed by an administrator",
}
#: A typed position whose typist has no account (any more).
MANUAL_UNKNOWN = "Typed in by hand"
FIELDS = ("latitude", "longitude", "address")

FALLBACK = web.AppKey("ngcc112_location_fallback", Locations)


def _(text: str) -> str:
    """Marks a msgid for extraction; translated when shown."""
    return text


def locations_of(app: web.Application) -> Locations:
    """The daemon's Locations (the triage's, whose changes reach the hub); ours without it."""
    triage = app[PANEL].services.extras.get("triage")
    found = getattr(triage, "locations", None)
    return found if isinstance(found, Locations) else app[FALLBACK]


def load_location_catalogs() -> dict[str, gettext.NullTranslations]:
    """This module's catalogs (``locale/<lang>/LC_MESSAGES/{DOMAIN}.po``), compiled in memory."""
    return {language: load_domain(language, DOMAIN) for language in LANGUAGES}


def merge_catalogs(catalogs: dict[str, gettext.NullTranslations]) -> None:
    """Let the panel's catalogs fall back to ours for msgids they do not have. Idempotent."""
    add_domain(catalogs, DOMAIN)


@dataclass(frozen=True, slots=True)
class TileConfig:
    """The on-premises tile server, as the map and the Content-Security-Policy need it."""

    url: str
    origin: str

    @property
    def enabled(self) -> bool:
        return bool(self.url)


def tile_config(tile_url: str) -> TileConfig:
    """``settings.panel.tile_url`` checked: an http(s) URL template with ``{z}``, ``{x}``, ``{y}``.
    Anything else means no tiles (the map then draws on a plain background)."""
    url = (tile_url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or not all(k in url for k in ("{z}", "{x}", "{y}")):
        return TileConfig("", "")
    return TileConfig(url, f"{parts.scheme}://{parts.netloc}")


def tile_img_src(tile_url: str) -> str:
    """The Content-Security-Policy ``img-src`` the panel needs for ``tile_url``."""
    origin = tile_config(tile_url).origin
    sources = ["'self'", "data:"]
    if origin:
        sources.append(origin.replace("{s}", "*"))
    return "img-src " + " ".join(sources)


# -- access ------------------------------------------------------------------------------


class Refused(Exception):
    """``field``: the field a 422 is about (the API names it, as every 422 of the API does)."""

    def __init__(self, status: int, message: str, code: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.field = status, message, code, field


async def ticket_for(request: web.Request, ticket_id: int) -> Ticket:
    """The ticket if this user may see it; :class:`Refused` (404) otherwise — an agency user is
    told nothing about tickets not dispatched to their agency."""
    user: User = request[USER]
    sessions = request.app[PANEL].services.sessions
    if user.role == Role.AGENCY.value:
        try:
            return (await dispatching.get_ticket_for(sessions, user, ticket_id)).ticket
        except dispatching.NotFoundOrForbidden:
            raise Refused(404, _("Not found"), "not_found") from None
    ticket = await find_ticket(sessions, ticket_id)
    if ticket is None:
        raise Refused(404, _("Not found"), "not_found")
    return ticket


async def _refusal(request: web.Request, refused: Refused) -> web.Response:
    if refused.field is not None and wants_json(request):
        translate = request[GETTEXT]
        return web.json_response(
            {
                "error": translate(_("Please correct the marked fields")),
                "code": refused.code,
                "errors": {refused.field: translate(refused.message)},
                "values": {},
            },
            status=refused.status,
        )
    return await error_response(request, refused.status, refused.message, code=refused.code)


# -- presenting --------------------------------------------------------------------------


def _now() -> datetime:
    return datetime.now(timezone.utc)


def age_text(seconds: float, translate: Callable[[str], str]) -> str:
    """How long ago, in words ("2 min ago"); the page keeps it current (``map.js``)."""
    if seconds < -CLOCK_AHEAD_SECONDS:
        return translate(_("time ahead of our clock (device clock wrong?)"))
    if seconds < 45:
        return translate(_("just now"))
    minutes = int(seconds // 60)
    if minutes < 2:
        return translate(_("1 min ago"))
    if minutes < 60:
        return translate(_("%(n)d min ago")) % {"n": minutes}
    if minutes < 48 * 60:
        return translate(_("%(n)d h ago")) % {"n": minutes // 60}
    return translate(_("%(n)d days ago")) % {"n": minutes // (24 * 60)}


def _ordered(views: list[FixView]) -> list[FixView]:
    """The accepted fix first, then the candidates newest first, then the replaced ones."""

    def rank(view: FixView) -> tuple[int, float]:
        group = 0 if view.accepted else 1 if view.candidate else 2
        return group, -view.fix.time.timestamp()

    return sorted(views, key=rank)


def fix_json(view: FixView, now: datetime, accepted_id: int | None) -> dict[str, Any]:
    fix = view.fix
    return {
        "id": view.id,
        "ticket_id": view.ticket_id,
        "source": fix.source,
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "radius_m": fix.radius_m,
        "confidence_pct": fix.confidence_pct,
        "method": fix.method,
        "address": view.address,
        "time": fix.time.isoformat(),
        "age_seconds": round((now - fix.time).total_seconds(), 1),
        "accepted": view.accepted,
        "accepted_by": view.accepted_by,
        "accepted_at": view.accepted_at.isoformat() if view.accepted_at else None,
        "candidate": view.candidate,
        "superseded": view.superseded,
        # a candidate stored after the accepted position (ids grow), or while none is accepted
        "new": view.candidate and (accepted_id is None or view.id > accepted_id),
        "created_by": view.created_by,
    }


def scores_json(ticket: Ticket, language: str) -> dict[str, Any]:
    """Ghost and prank scores in [0, 1] and every reason, in ``language`` (English otherwise)."""
    reasons = []
    for reason in ticket.score_reasons or []:
        if not isinstance(reason, dict):
            continue
        text = reason.get(language) or reason.get("en") or reason.get("code") or ""
        reasons.append(
            {
                "score": reason.get("score"),
                "code": reason.get("code"),
                "text": str(text),
                "weight": reason.get("weight"),
            }
        )
    return {"ghost": _unit(ticket.ghost_score), "prank": _unit(ticket.prank_score), "reasons": reasons}


def _unit(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return min(1.0, max(0.0, float(value)))


def reasons_for(reasons: list[dict[str, Any]], kind: str, language: str) -> list[dict[str, Any]]:
    """The reasons of one score (``ghost``, ``prank``, ``real``) as the screen-pop lists them."""
    out = []
    for reason in reasons or []:
        if isinstance(reason, dict) and reason.get("score") == kind:
            out.append(
                {
                    "text": str(reason.get(language) or reason.get("en") or reason.get("code") or ""),
                    "weight": reason.get("weight"),
                    "code": reason.get("code"),
                }
            )
    return out


async def location_state(request: web.Request, ticket: Ticket) -> dict[str, Any]:
    """Everything the map, the list and the JSON API show for one ticket."""
    views = await locations_of(request.app).fixes_for(ticket.id)
    now = _now()
    accepted = next((v for v in views if v.accepted), None)
    accepted_id = None if accepted is None else accepted.id
    fixes = [fix_json(v, now, accepted_id) for v in _ordered(views)]
    return {
        "ticket_id": ticket.id,
        "state": ticket.state,
        "server_now": now.isoformat(),
        "accepted": next((f for f in fixes if f["accepted"]), None),
        "candidates": [f["id"] for f in fixes if f["candidate"]],
        "fixes": fixes,
        "scores": scores_json(ticket, request[LANG]),
        "silent_call": _silent(ticket),
    }


def _silent(ticket: Ticket) -> bool:
    from ngcc112 import names

    return ticket.silent_digit == names.SILENT_DIGIT


async def _typists(request: web.Request, fixes: list[dict[str, Any]]) -> dict[str, str]:
    """The role of whoever typed each manual position (username → role)."""
    typists = {f["created_by"] for f in fixes if f["source"] == "manual" and f.get("created_by")}
    return await actor_roles(request.app[PANEL].services.sessions, typists)


def source_label(fix: dict[str, Any], roles: dict[str, str]) -> str:
    """How a fix's source is shown (a msgid): a typed one says by whom (their role)."""
    source = str(fix["source"])
    if source != "manual":
        return SOURCE_LABELS.get(source, source)
    return MANUAL_BY_ROLE.get(roles.get(fix.get("created_by") or "", ""), MANUAL_UNKNOWN)


async def _template_values(request: web.Request, state: dict[str, Any]) -> dict[str, Any]:
    translate = request[GETTEXT]
    now = datetime.fromisoformat(state["server_now"])
    roles = await _typists(request, state["fixes"])
    fixes = []
    for fix in state["fixes"]:
        age = (now - datetime.fromisoformat(fix["time"])).total_seconds()
        fixes.append(
            {
                **fix,
                "age_text": age_text(age, translate),
                "source_label": source_label(fix, roles),
                "source_short": SOURCE_SHORT.get(fix["source"], fix["source"]),
            }
        )
    return {
        "loc": {**state, "fixes": fixes, "has_new": any(f["new"] for f in fixes)},
        "automatic_actors": (SIP_ACTOR, AML_ACTOR),
    }


# -- validation --------------------------------------------------------------------------

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


def _invalid_json(request: web.Request, exc: ManualInvalid) -> web.Response:
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


# -- use cases ---------------------------------------------------------------------------


def _check_open(ticket: Ticket) -> None:
    if not position_may_change(ticket):
        raise Refused(409, _("The ticket is closed: its position can no longer change"), "closed")


async def _accept(request: web.Request, ticket: Ticket, raw_fix_id: Any) -> FixView:
    _check_open(ticket)
    fix_id = parse_id(raw_fix_id)
    if fix_id is None:  # not an id, or beyond any row's
        raise Refused(422, _("Choose a position to accept"), "invalid", "fix_id")
    locations = locations_of(request.app)
    if not any(v.id == fix_id for v in await locations.fixes_for(ticket.id)):
        raise Refused(404, _("Not found"), "not_found")
    user: User = request[USER]
    try:
        return await locations.accept_fix(fix_id, user.username)
    except LocationError:
        raise Refused(409, _("This position can no longer be accepted: the list was updated"), "conflict") from None


async def _add_manual(request: web.Request, ticket: Ticket, manual: ManualFix) -> FixView:
    _check_open(ticket)
    user: User = request[USER]
    try:
        return await locations_of(request.app).add_manual_fix(
            ticket.id, manual.latitude, manual.longitude, manual.address, user.username, radius_m=manual.radius_m
        )
    except LocationError:
        raise Refused(409, _("The position could not be stored"), "conflict") from None


async def board_state(request: web.Request) -> dict[str, Any]:
    positions = await board_positions(request.app[PANEL].services.sessions)
    now = _now()
    items = [
        {
            "ticket_id": p.ticket_id,
            "state": p.state,
            "category": p.category,
            "source": p.source,
            "latitude": p.latitude,
            "longitude": p.longitude,
            "radius_m": p.radius_m,
            "time": p.time.isoformat(),
            "age_seconds": round((now - p.time).total_seconds(), 1),
        }
        for p in positions
    ]
    return {"server_now": now.isoformat(), "incidents": items}


# -- pages and fragments -----------------------------------------------------------------


@routes.get("/panel/tickets/{ticket_id:\\d+}/location")
@require(*ROLES)
async def fixes_fragment(request: web.Request) -> web.StreamResponse:
    """The fixes as HTML (list, candidate banner, accept buttons, map data) for ``map.js``."""
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
    except Refused as refused:
        return await _refusal(request, refused)
    values = await _template_values(request, await location_state(request, ticket))
    # ?readonly=1: the agency's page shows the position; accepting one is the 112 center's.
    values["loc"]["readonly"] = request.query.get("readonly") == "1"
    return await render(request, "location/_fixes.html", values)


async def location_page(
    request: web.Request,
    ticket: Ticket,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> web.Response:
    panel = request.app[PANEL]
    state = await location_state(request, ticket)
    return await render(
        request,
        "location/page.html",
        {
            **await _template_values(request, state),
            "t": await ticket_view(panel, ticket, history=False),
            "loc_errors": errors or {},
            "loc_values": values or {},
            "loc_message": message,
        },
        status=status,
    )


@routes.get("/tickets/{ticket_id:\\d+}/location", name="ticket_location")
@require(*ROLES)
async def page(request: web.Request) -> web.StreamResponse:
    """The ticket's position on its own page (map, every fix, the manual form)."""
    try:
        ticket = await ticket_for(request, int(request.match_info["ticket_id"]))
    except Refused as refused:
        return await _refusal(request, refused)
    kept = form_memory.recall(request, _form_key(ticket.id))
    if kept is None:
        return await location_page(request, ticket)
    errors = dict(kept.errors)
    message = errors.pop(form_memory.FORM, None)
    return await location_page(request, ticket, errors=errors, values=kept.values, message=message)


def _form_key(ticket_id: int) -> str:
    return f"location-{ticket_id}"


def _refused_form(
    request: web.Request, ticket_id: int, values: dict[str, str], errors: dict[str, str], message: str
) -> web.HTTPSeeOther:
    """Post/redirect/get: the location page shows what was typed and why it was refused."""
    form_memory.remember(request, _form_key(ticket_id), values, {**errors, form_memory.FORM: message})
    return web.HTTPSeeOther(f"/tickets/{ticket_id}/location")


def _back(form: Any, ticket_id: int) -> str:
    """Where a form post goes on success: its ``next`` (same site only), else the location page."""
    wanted = str(form.get("next") or "")
    return safe_next(wanted) if wanted else f"/tickets/{ticket_id}/location"


@routes.post("/tickets/{ticket_id:\\d+}/location/accept")
@require(*ROLES)
async def accept_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ticket_id = int(request.match_info["ticket_id"])
    try:
        ticket = await ticket_for(request, ticket_id)
    except Refused as refused:
        return await _refusal(request, refused)
    try:
        await _accept(request, ticket, form.get("fix_id", ""))
    except Refused as refused:
        if refused.status == 404:
            return await _refusal(request, refused)
        raise _refused_form(request, ticket.id, {}, {}, refused.message) from None
    raise web.HTTPSeeOther(_back(form, ticket_id))


@routes.post("/tickets/{ticket_id:\\d+}/location/manual")
@require(*ROLES)
async def manual_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    ticket_id = int(request.match_info["ticket_id"])
    try:
        ticket = await ticket_for(request, ticket_id)
    except Refused as refused:
        return await _refusal(request, refused)
    raw = {key: str(form.get(key, "")) for key in (*FIELDS, "radius_m")}
    try:
        await _add_manual(request, ticket, validate_manual(raw))
    except ManualInvalid as exc:
        raise _refused_form(request, ticket.id, exc.values, exc.errors, _("Please correct the marked fields")) from None
    except Refused as refused:
        if refused.status == 404:
            return await _refusal(request, refused)
        raise _refused_form(request, ticket.id, raw, {}, refused.message) from None
    raise web.HTTPSeeOther(_back(form, ticket_id))


__all__ = [
    "BOARD_ROLES",
    "ROLES",
    "TileConfig",
    "age_text",
    "location_state",
    "locations_of",
    "merge_catalogs",
    "reasons_for",
    "tile_config",
    "tile_img_src",
    "validate_manual",
]
