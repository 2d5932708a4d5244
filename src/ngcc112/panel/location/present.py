"""A ticket's position as the panel shows it: fixes and scores as JSON, their reasons in the
request's language, how long ago, who typed a manual one, and the map's tile server."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from ngcc112 import names
from ngcc112.panel.location.labels import MANUAL_BY_ROLE, MANUAL_UNKNOWN, SOURCE_LABELS, SOURCE_SHORT, _
from ngcc112.panel.location.service import locations_of
from ngcc112.panel.state import GETTEXT, LANG, PANEL
from ngcc112.tickets.audit_trail import actor_roles
from ngcc112.tickets.aml_locations import AML_ACTOR
from ngcc112.tickets.locations import (
    SIP_ACTOR,
    FixView,
)
from ngcc112.tickets.models import Ticket

#: A fix time this far ahead of our clock means the device's clock is wrong; say so.
CLOCK_AHEAD_SECONDS = 60


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


def utc_now() -> datetime:
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
    return {"ghost": unit_of(ticket.ghost_score), "prank": unit_of(ticket.prank_score), "reasons": reasons}


def unit_of(value: float | None) -> float | None:
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
    now = utc_now()
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


async def template_values(request: web.Request, state: dict[str, Any]) -> dict[str, Any]:
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
