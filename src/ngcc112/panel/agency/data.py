"""An agency user's reads, shared by the pages and the JSON API: their dispatches (open first),
and one dispatch with the ticket facts the field team needs and its timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ngcc112.panel.center_time import local_time
from ngcc112.panel.dispatch.board import brief
from ngcc112.panel.dispatch_labels import DISPATCH_STATUS_LABELS
from ngcc112.panel.dispatch_state import DISPATCH
from ngcc112.panel.state import GETTEXT, PANEL, USER, ticket_view
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.board import tickets_by_id
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.models import User
from ngcc112.tickets.states import State
from ngcc112.tickets.store import jsonable


async def agency_dispatches(request: web.Request) -> dict[str, Any]:
    """An agency user's own dispatches: open ones first, then the finished ones."""
    panel = request.app[PANEL]
    user: User = request[USER]
    sessions = panel.services.sessions
    agency = await agency_admin.agency_of(sessions, user.id)
    views = await dispatching.visible_dispatches(sessions, user, limit=200)
    summaries = [dispatching.dispatch_summary(v) for v in views]
    found = await tickets_by_id(sessions, {v.ticket_id for v in views})
    tickets = {ticket_id: brief(ticket) for ticket_id, ticket in found.items()}
    for item in summaries:
        item["ticket"] = tickets.get(item["ticket_id"])
    is_open = [
        s
        for s in summaries
        if s["ticket_state"] != State.CLOSED.value
        and not (s["status"] in {d.value for d in dispatching.FINISHED} and s["reported_at"])
    ]
    open_ids = {s["id"] for s in is_open}
    done = [s for s in summaries if s["id"] not in open_ids]
    return {
        "agency": {"code": agency.code, "name": agency.name} if agency else None,
        "open": is_open,
        "done": done,
        "server_time": datetime.now(timezone.utc).isoformat(),
    }


async def agency_dispatch(request: web.Request, dispatch_id: int) -> dict[str, Any]:
    """One of the agency's dispatches with the ticket facts the field team needs.

    Raises :class:`~ngcc112.tickets.dispatch.NotFoundOrForbidden` for another agency's dispatch.
    """
    panel = request.app[PANEL]
    user: User = request[USER]
    sessions = panel.services.sessions
    view = await dispatching.get_dispatch_for(sessions, user, dispatch_id)
    found = await dispatching.get_ticket_for(sessions, user, view.ticket_id)
    ticket = found.ticket
    full = await ticket_view(panel, ticket)
    item = dispatching.dispatch_summary(view)
    status = dispatching.DispatchStatus(view.status)
    open_ticket = ticket.state != State.CLOSED.value
    translate = request[GETTEXT]
    local = request.app[DISPATCH].report_tz
    closing = await dispatching.closing_of(sessions, ticket.id) if not open_ticket else None
    fellows = await dispatching.fellow_agencies(sessions, user, ticket.id)
    return {
        "dispatch": item,
        "ticket": {
            **brief(ticket),
            "intake": full["intake"],
            "location": full["location"],
            "silent_call": full["silent_call"],
        },
        "timeline": dispatch_timeline(view, closing, translate, local),
        "other_agencies": [
            {
                "agency": f.agency_code,
                "agency_name": f.agency_name,
                "status": f.status,
                "status_label": translate(DISPATCH_STATUS_LABELS[f.status]),
            }
            for f in fellows
        ],
        "closing": None if closing is None else {**jsonable(closing), "local": local_time(closing["at"], local)},
        "timezone": request.app[DISPATCH].report_tz,
        "can_acknowledge": open_ticket and status is dispatching.DispatchStatus.SENT,
        "next_statuses": [
            s.value for s in dispatching.STATUS_UPDATES if open_ticket and s in dispatching.DISPATCH_STEPS[status]
        ],
        # "Cannot handle": its reason is the report back; no field report follows.
        "can_report": open_ticket
        and view.reported_at is None
        and status is not dispatching.DispatchStatus.CANNOT_HANDLE,
    }


#: The stages of one dispatch, in order: (key, label, the view's time field, its "by" field).
TIMELINE_STAGES = (
    ("sent", N_("Sent"), "sent_at", "sent_by"),
    ("acknowledged", N_("Acknowledged"), "acknowledged_at", "acknowledged_by"),
    ("en_route", N_("En route"), "en_route_at", None),
    ("on_scene", N_("On scene"), "on_scene_at", None),
    ("finished", "", "finished_at", None),  # its label is the dispatch status it ended in
    ("reported", N_("Field report sent"), "reported_at", "reported_by"),
)


def dispatch_timeline(
    view: dispatching.DispatchView, closing: dict[str, Any] | None, translate: Callable[[str], str], local: str
) -> list[dict[str, Any]]:
    """What happened to one dispatch, oldest first, in the center's time zone; then the ticket's closing."""
    steps = []
    for key, label, at_field, by_field in TIMELINE_STAGES:
        at = getattr(view, at_field)
        if at is None:
            continue
        if key == "finished":
            key, label = view.status, DISPATCH_STATUS_LABELS[view.status]
        if key == "reported" and view.status == dispatching.DispatchStatus.CANNOT_HANDLE.value and not view.report:
            continue  # "cannot handle" reports back by its reason, told on its own line
        steps.append(
            {
                "stage": key,
                "label": translate(label),
                "at": at.isoformat(),
                "local": local_time(at, local),
                "by": getattr(view, by_field) if by_field else None,
            }
        )
    if closing is not None:
        steps.append(
            {
                "stage": "closed",
                "label": translate(N_("Ticket closed")),
                "at": closing["at"].isoformat(),
                "local": local_time(closing["at"], local),
                "by": None,
            }
        )
    return sorted(steps, key=lambda s: s["at"])
