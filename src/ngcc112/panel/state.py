"""The panel's shared state (one per app) and the reads both the pages and the API use."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import structlog
from aiohttp import web
from sqlalchemy import and_, func, or_, select

from ngcc112 import names
from ngcc112.location.sip import parse_sip_geolocation
from ngcc112.panel.labels import PRESENCE_LABELS, WRAPUP_LABEL
from ngcc112.panel.ticket_waits import TicketWaits
from ngcc112.panel.live import LiveHub
from ngcc112.panel.operator.calls import INTAKE_STATES, CallBoard, OperatorCall
from ngcc112.panel.outage import is_database_away
from ngcc112.routing.presence import MemberPresence, Presence, PresenceBoard, PresenceControl
from ngcc112.routing.wrapup import WRAPUP_REASON
from ngcc112.tickets.drafts import drafted_tickets
from ngcc112.tickets.intake import NOTE_STATES
from ngcc112.tickets.models import Ticket, User
from ngcc112.tickets.store import jsonable, ticket_summary

if TYPE_CHECKING:
    from ngcc112.services import Services
    from ngcc112.wrapup import WrapUpService

log = structlog.get_logger(__name__)


@dataclass
class Panel:
    services: Services
    presence: PresenceBoard
    control: PresenceControl
    calls: CallBoard
    live: LiveHub
    catalogs: dict[str, gettext.NullTranslations]
    started_at: datetime
    #: After-call work (QueuePause with the wrap-up reason after each call).
    wrapup: WrapUpService
    #: Waits for a call's ticket to be committed (woken by the store, not by polling).
    ticket_waits: TicketWaits

    @property
    def queue(self) -> str:
        return self.services.settings.calls.queue


PANEL = web.AppKey("ngcc112_panel", Panel)
#: Per request: the logged-in user (or None), the language and its gettext.
USER = web.RequestKey("ngcc112_user", User)
LANG = web.RequestKey("ngcc112_lang", str)
#: The request's translation function (its language's catalog's ``gettext``).
GETTEXT: web.RequestKey[Callable[[str], str]] = web.RequestKey("ngcc112_gettext")
#: The SHA-256 of the logged-in request's session id (panel_sessions.id); absent without a login.
SESSION_HASH = web.RequestKey("ngcc112_session_hash", str)

#: How long a page waits for a call's ticket the store is still writing.
TICKET_WAIT = 1.5
HISTORY_LIMIT = 10


async def ticket_for_call(panel: Panel, call_id: str, wait: float = TICKET_WAIT) -> Ticket | None:
    """The call's ticket; it may be committed a moment after the hub event: wait (briefly) for that commit."""
    return await panel.ticket_waits.until_found(call_id, lambda: panel.services.store.by_linkedid(call_id), wait)


async def number_history(panel: Panel, ticket: Ticket) -> list[dict[str, Any]]:
    """Earlier tickets from the same number, newest first, with their verdicts."""
    if not ticket.caller_number:
        return []
    async with panel.services.sessions() as session:
        rows = (
            await session.scalars(
                select(Ticket)
                .where(
                    Ticket.caller_number == ticket.caller_number,
                    Ticket.id != ticket.id,
                    Ticket.arrived_at <= ticket.arrived_at,
                )
                .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
                .limit(HISTORY_LIMIT)
            )
        ).all()
    return [
        jsonable(
            {
                "id": t.id,
                "arrived_at": t.arrived_at,
                "state": t.state,
                "verdict": t.verdict,
                "category": t.category,
                "abandoned": t.abandoned,
            }
        )
        for t in rows
    ]


def location_of(ticket: Ticket) -> dict[str, Any] | None:
    """The caller's position from the NGCC_GEO_* variables, as plain data, or None."""
    variables = {k: str(v) for k, v in (ticket.variables or {}).items() if k.startswith(names.VAR_GEO_PREFIX)}
    if not variables:
        return None
    fix = parse_sip_geolocation(variables, ticket.arrived_at)
    if fix is None:
        raw = variables.get(names.VAR_GEO_LOCATION, "")
        return (
            {
                "latitude": None,
                "longitude": None,
                "radius_m": None,
                "confidence_pct": None,
                "method": variables.get(names.VAR_GEO_METHOD) or None,
                "raw": raw,
            }
            if raw
            else None
        )
    return {
        "latitude": fix.latitude,
        "longitude": fix.longitude,
        "radius_m": fix.radius_m,
        "confidence_pct": fix.confidence_pct,
        "method": fix.method,
        "raw": fix.raw,
    }


async def current_location(panel: Panel, ticket: Ticket) -> dict[str, Any] | None:
    """The position to act on: the accepted fix (SIP, AML or set by hand) when there is one,
    else what the SIP call carried on arrival. Intake and dispatch read this, never a stale copy."""
    locations = panel.services.locations
    try:
        accepted = await locations.accepted_fix(ticket.id)
    except Exception as exc:  # the database is away: the call's own data still shows
        log.warning("panel.accepted_fix_unavailable", ticket_id=ticket.id, error=str(exc))
        accepted = None
    if accepted is not None:
        fix = accepted.fix
        return {
            "latitude": fix.latitude,
            "longitude": fix.longitude,
            "radius_m": fix.radius_m,
            "confidence_pct": fix.confidence_pct,
            "method": fix.method,
            "raw": fix.raw,
            "source": fix.source,
            "address": accepted.address,
        }
    location = location_of(ticket)
    if location is not None:
        location["source"] = "sip"
    return location


async def ticket_view(panel: Panel, ticket: Ticket, *, history: bool = True) -> dict[str, Any]:
    """The ticket for pages and the API; ``history`` adds this number's earlier tickets (a query)."""
    view = ticket_summary(ticket)
    view.update(
        jsonable(
            {
                "intake": ticket.intake or {},
                "note": ticket.note,
                "classified_at": ticket.classified_at,
                "closed_at": ticket.closed_at,
                "ghost_score": ticket.ghost_score,
                "prank_score": ticket.prank_score,
                "score_reasons": ticket.score_reasons or [],
                "silent_call": ticket.silent_digit == names.SILENT_DIGIT,
                "location": await current_location(panel, ticket),
                "history": await number_history(panel, ticket) if history else [],
            }
        )
    )
    return view


#: How far back the desk looks for this operator's unfinished intakes.
PENDING_HOURS = 12
PENDING_LIMIT = 20


async def pending_tickets(panel: Panel, interface: str) -> list[Ticket]:
    """The calls this operator answered whose intake is not submitted yet, newest first — and
    abandoned calls whose callback this operator's softphone answered (never answered themselves)."""
    since = datetime.now(timezone.utc) - timedelta(hours=PENDING_HOURS)
    async with panel.services.sessions() as session:
        return list(
            (
                await session.scalars(
                    select(Ticket)
                    .where(
                        Ticket.operator_interface == interface,
                        Ticket.state.in_(sorted(INTAKE_STATES)),
                        or_(
                            Ticket.answered_at >= since,
                            and_(Ticket.answered_at.is_(None), Ticket.abandoned.is_(True), Ticket.updated_at >= since),
                        ),
                    )
                    .order_by(func.coalesce(Ticket.answered_at, Ticket.updated_at).desc(), Ticket.id.desc())
                    .limit(PENDING_LIMIT)
                )
            ).all()
        )


async def _ticket_call(panel: Panel, ticket: Ticket) -> dict[str, Any]:
    """A ticket whose call is no longer on the call board (ended, or before a panel restart)."""
    return {
        "call_id": ticket.linkedid,
        "phase": "connected",
        "since": jsonable(ticket.answered_at),
        "ended": ticket.ended_at is not None,
        "caller_number": ticket.caller_number,
        "caller_name": ticket.caller_name,
        "ticket": await ticket_view(panel, ticket),
    }


async def desk_view(panel: Panel, user: User, selected: int | None = None) -> dict[str, Any]:
    """The operator's desk.

    ``active``: the call whose intake form is on screen — the ticket the operator chose
    (``selected``, one of their pending intakes), else the call they are on, else their
    latest unfinished intake. ``live``: the call they are on when it is not the one on
    screen (the page shows it in a banner; the operator switches deliberately).
    ``followup``: the call they are on after its ticket went to the dispatchers, while
    the caller is still on the line (caller card and a notes field). ``pending``: their
    other unfinished intakes. ``ringing``: the call their softphone rings for.
    """

    desk = panel.calls.desk(user.interface)
    out: dict[str, Any] = {"ringing": None, "active": None, "live": None, "followup": None, "pending": []}
    if desk.ringing is not None:
        out["ringing"] = await _call_view(panel, desk.ringing)
    active = desk.active
    live = await _call_view(panel, active) if active is not None else None
    if (
        active is not None
        and live is not None
        and live["ticket"] is not None
        and live["ticket"]["state"] not in INTAKE_STATES
    ):
        if not live["ended"] and live["ticket"]["state"] in NOTE_STATES:
            out["followup"] = live
        else:
            panel.calls.clear_active(active.interface, active.call_id)
        live = None
    pending: list[Ticket] = []
    if user.interface:
        try:
            pending = await pending_tickets(panel, user.interface)
        except Exception as exc:
            if not is_database_away(exc):
                raise
    chosen = next((t for t in pending if t.id == selected), None) if selected is not None else None
    if chosen is not None and (live is None or live["ticket"] is None or live["ticket"]["id"] != chosen.id):
        out["active"] = await _ticket_call(panel, chosen)
        out["live"] = live
    elif live is not None:
        out["active"] = live
    elif pending and out["followup"] is None:
        out["active"] = await _ticket_call(panel, pending[0])
    shown = {c["ticket"]["id"] for c in (out["active"], out["live"]) if c and c["ticket"]}
    drafted = set()
    if user.id is not None and pending:
        try:
            drafted = await drafted_tickets(panel.services.sessions, user.id, [t.id for t in pending])
        except Exception as exc:
            if not is_database_away(exc):
                raise
    out["pending"] = [
        jsonable(
            {
                "id": t.id,
                "caller_number": t.caller_number,
                "caller_name": t.caller_name,
                "answered_at": t.answered_at,
                "ended": t.ended_at is not None,
                "drafted": t.id in drafted,
            }
        )
        for t in pending
        if t.id not in shown
    ]
    return out


async def _call_view(panel: Panel, call: OperatorCall) -> dict[str, Any]:
    """A ringing or active call: the caller from the live call state, the ticket when the
    database answers (while it is away the screen-pop still comes, without the ticket)."""

    try:
        ticket = await ticket_for_call(panel, call.call_id)
        view = await ticket_view(panel, ticket) if ticket is not None else None
    except Exception as exc:
        if not is_database_away(exc):
            raise
        log.warning("panel.ticket_unavailable", call_id=call.call_id, error=type(exc).__name__)
        ticket, view = None, None
    since = call.at
    if call.phase == "connected" and ticket is not None and ticket.answered_at is not None:
        since = ticket.answered_at
    number, name = panel.calls.caller(call.call_id)
    if ticket is not None:
        number, name = ticket.caller_number, ticket.caller_name
    return {
        "call_id": call.call_id,
        "phase": call.phase,
        "since": since.isoformat(),
        "ended": call.ended or (ticket is not None and ticket.ended_at is not None),
        "caller_number": number,
        "caller_name": name,
        "ticket": view,
    }


def presence_view(member: MemberPresence, translate: gettext.NullTranslations) -> dict[str, Any]:

    out = member.as_dict()
    out["label"] = translate.gettext(PRESENCE_LABELS[member.presence.value])
    # paused by the daemon after a call (QueuePause Reason wrap-up): after-call work, not a break
    out["wrap_up"] = member.presence is Presence.BREAK and member.pause_reason == WRAPUP_REASON
    if out["wrap_up"]:
        out["label"] = translate.gettext(WRAPUP_LABEL)
    return out
