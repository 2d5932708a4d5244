"""What the dispatcher board shows, as JSON-able data: calls waiting, operators, tickets awaiting
dispatch, incidents judged against the SLA targets, what needs action first, and the callbacks.
The rows come from :mod:`ngcc112.tickets.board`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from ngcc112.panel.dispatch_state import DISPATCH, DispatchState
from ngcc112.panel.state import LANG, presence_view
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.board import abandoned_calls, dispatches_on, entered_states, known_sites, open_incidents
from ngcc112.tickets.callback_outcomes import FINAL_OUTCOMES, callback_history
from ngcc112.tickets.callbacks import callback_number as callback_number_of
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.sla import SlaTargets, Stage
from ngcc112.tickets.states import State
from ngcc112.tickets.store import jsonable


def answer_target(targets: SlaTargets) -> float | None:
    """The answer-time standard a waiting call is judged by: 15 s when offered, else the middle one."""
    thresholds = targets.answer_thresholds
    if not thresholds:
        return None
    return 15.0 if 15.0 in thresholds else thresholds[len(thresholds) // 2]


def age_of(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())


def is_overdue(seconds: float | None, target: float | None) -> bool:
    return seconds is not None and target is not None and seconds > target


def brief(ticket: Ticket) -> dict[str, Any]:
    intake = ticket.intake or {}
    view: dict[str, Any] = jsonable(
        {
            "id": ticket.id,
            "site": ticket.site,
            "state": ticket.state,
            "caller_number": ticket.caller_number,
            "caller_name": ticket.caller_name or intake.get("caller_name"),
            "category": ticket.category,
            "address": intake.get("address") or "",
            "description": intake.get("description") or "",
            "arrived_at": ticket.arrived_at,
            "abandoned": ticket.abandoned,
            "verdict": ticket.verdict,
        }
    )
    return view


async def board_data(request: web.Request) -> dict[str, Any]:
    """Everything the dispatcher board shows, as JSON-able data."""
    state = request.app[DISPATCH]
    panel = state.panel
    sessions = panel.services.sessions
    translate = panel.catalogs[request[LANG]]
    targets = state.targets
    now = state.now()

    waiting = []
    wait_target = answer_target(targets)
    for call in state.feed.waiting.calls():
        number, name = panel.calls.caller(call.call_id)
        seconds = age_of(call.arrived_at, now)
        waiting.append(
            jsonable(
                {
                    "call_id": call.call_id,
                    "queue": call.queue,
                    "caller_number": number,
                    "caller_name": name,
                    "arrived_at": call.arrived_at,
                    "queued_at": call.queued_at,
                    "position": call.position,
                    "priority": call.priority,
                    "wait_seconds": seconds,
                    "target_seconds": wait_target,
                    "overdue": is_overdue(seconds, wait_target),
                }
            )
        )

    operators = []
    for member in panel.presence.members():
        view = presence_view(member, translate)
        desk = panel.calls.desk(member.interface)
        active_since = desk.active.at if desk.active is not None and not desk.active.ended else None
        seconds = age_of(active_since, now)
        view.update(
            jsonable(
                {
                    "ringing": desk.ringing.call_id if desk.ringing else None,
                    "active": desk.active.call_id if desk.active else None,
                    "active_since": active_since,
                    "active_seconds": seconds,
                    "target_seconds": targets.intake,
                    "overdue": is_overdue(seconds, targets.intake),
                }
            )
        )
        operators.append(view)

    # ?site=: one site's tickets (the queue and the operators are this node's own)
    site = request.query.get("site") or None
    open_tickets = await open_incidents(sessions, site)
    abandoned = await abandoned_calls(sessions, now, site)
    moments = await entered_states(sessions, [t.id for t in open_tickets])
    dispatch_rows = await dispatches_on(
        sessions, {t.id: t.state for t in open_tickets if t.state != State.ESCALATED.value}
    )

    escalated, incidents = [], []
    for ticket in open_tickets:
        seen = moments.get(ticket.id, {})
        item = brief(ticket)
        if ticket.state == State.ESCALATED.value:
            since = seen.get(State.ESCALATED.value)
            seconds = age_of(since, now)
            item.update(
                jsonable(
                    {
                        "escalated_at": since,
                        "wait_seconds": seconds,
                        "target_seconds": targets.dispatch,
                        "overdue": is_overdue(seconds, targets.dispatch),
                    }
                )
            )
            escalated.append(item)
            continue
        views = dispatch_rows.get(ticket.id, [])
        if ticket.state == State.REPORTED.value:
            stage, since = Stage.CLOSING, seen.get(State.REPORTED.value)
        else:
            stage, since = Stage.FIELD_HANDLING, seen.get(State.DISPATCHED.value)
        seconds, target = age_of(since, now), targets.target(stage)
        summaries = [
            judged(dispatching.dispatch_summary(v), v, targets, now) for v in sorted(views, key=lambda v: v.id)
        ]
        item.update(
            jsonable(
                {
                    "dispatched_at": seen.get(State.DISPATCHED.value),
                    "reported_at": seen.get(State.REPORTED.value),
                    "stage": stage.value,
                    "since": since,
                    "stage_seconds": seconds,
                    "target_seconds": target,
                    "overdue": is_overdue(seconds, target)
                    or any(d["ack_overdue"] or d["arrival_overdue"] for d in summaries),
                    "cannot_handle": any(d["status"] == CANNOT_HANDLE for d in summaries),
                    "dispatches": summaries,
                }
            )
        )
        incidents.append(item)

    escalated.sort(key=lambda item: (item["escalated_at"] or "", item["id"]))  # longest waiting first
    callbacks = await callback_items(state, abandoned)
    return {
        "server_time": now.isoformat(),
        "site": site,
        "sites": await known_sites(sessions),
        "attention": needs_action(escalated, incidents),
        "waiting": waiting,
        "operators": operators,
        "escalated": escalated,
        "incidents": incidents,
        "callbacks": callbacks,
        "ami_connected": panel.services.daemon.link.connected,
        "targets": {
            "answer": wait_target,
            "intake": targets.intake,
            "dispatch": targets.dispatch,
            "field_handling": targets.field_handling,
            "closing": targets.closing,
            "acknowledge": targets.acknowledge,
            "arrival": targets.arrival,
        },
    }


CANNOT_HANDLE = dispatching.DispatchStatus.CANNOT_HANDLE.value
#: Dispatch statuses still waiting for the agency to arrive.
NOT_ARRIVED = frozenset(
    {
        dispatching.DispatchStatus.SENT.value,
        dispatching.DispatchStatus.ACKNOWLEDGED.value,
        dispatching.DispatchStatus.EN_ROUTE.value,
    }
)
#: What needs the dispatcher, most urgent kind first: the board lists them in this order.
ATTENTION_KINDS = ("awaiting_dispatch", "cannot_handle", "overdue_acknowledgement", "overdue_arrival")


def judged(
    summary: dict[str, Any], view: dispatching.DispatchView, targets: SlaTargets, now: datetime
) -> dict[str, Any]:
    """One dispatch with its clocks against the agency targets (from the moment it was sent)."""
    seconds = age_of(view.sent_at, now)
    ack = view.status == dispatching.DispatchStatus.SENT.value and is_overdue(seconds, targets.acknowledge)
    arrival = view.status in NOT_ARRIVED and is_overdue(seconds, targets.arrival)
    return {
        **summary,
        "sent_seconds": seconds,
        "acknowledge_target": targets.acknowledge,
        "arrival_target": targets.arrival,
        "ack_overdue": ack,
        "arrival_overdue": arrival,
    }


def needs_action(escalated: list[dict[str, Any]], incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Everything waiting for the dispatcher, in :data:`ATTENTION_KINDS` order, oldest first in each.

    A dispatch both unacknowledged and late on arrival is listed once, as unacknowledged.
    """
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in ATTENTION_KINDS}
    for ticket in escalated:
        found["awaiting_dispatch"].append(
            {
                "kind": "awaiting_dispatch",
                "key": f"ticket-{ticket['id']}",
                "ticket_id": ticket["id"],
                "category": ticket["category"],
                "address": ticket["address"],
                "agency": None,
                "agency_name": None,
                "reason": None,
                "since": ticket["escalated_at"],
                "seconds": ticket["wait_seconds"],
                "target_seconds": ticket["target_seconds"],
                "overdue": ticket["overdue"],
            }
        )
    for ticket in incidents:
        for d in ticket["dispatches"]:
            if d["status"] == CANNOT_HANDLE:
                kind, target, since = "cannot_handle", None, d["finished_at"] or d["sent_at"]
            elif d["ack_overdue"]:
                kind, target, since = "overdue_acknowledgement", d["acknowledge_target"], d["sent_at"]
            elif d["arrival_overdue"]:
                kind, target, since = "overdue_arrival", d["arrival_target"], d["sent_at"]
            else:
                continue
            found[kind].append(
                {
                    "kind": kind,
                    "key": f"{kind}-{d['id']}",
                    "ticket_id": ticket["id"],
                    "category": ticket["category"],
                    "address": ticket["address"],
                    "agency": d["agency"],
                    "agency_name": d["agency_name"],
                    "reason": d["reason"],
                    "since": since,
                    "seconds": d["sent_seconds"] if kind != "cannot_handle" else None,
                    "target_seconds": target,
                    "overdue": kind != "cannot_handle",
                }
            )
    ordered = []
    for kind in ATTENTION_KINDS:
        ordered.extend(sorted(found[kind], key=lambda item: (item["since"] or "", item["ticket_id"])))
    return ordered


async def callback_items(state: DispatchState, abandoned: list[Ticket]) -> list[dict[str, Any]]:
    history = await callback_history(state.panel.services.sessions, [t.id for t in abandoned])
    items = []
    for ticket in abandoned:
        item = brief(ticket)
        rows = history.get(ticket.id, [])
        outcome = next((r["outcome"] for r in reversed(rows) if r["action"] == "callback_outcome"), None)
        item.update(
            jsonable(
                {
                    "abandoned_at": ticket.abandoned_at or ticket.ended_at,
                    "waited_seconds": ticket.waited_seconds,
                    "callback_number": callback_number_of(ticket),
                    "callbacks": rows,
                    "callback_pending": state.callbacks.pending_for(ticket.id) is not None,
                    # reached / dismissed close the loop; no answer may be tried again
                    "outcome": outcome,
                    "loop_closed": outcome in FINAL_OUTCOMES,
                    "taken_by": ticket.operator_interface,
                }
            )
        )
        items.append(item)
    return items


async def callbacks_data(request: web.Request) -> dict[str, Any]:
    """The abandoned calls of the last 24 hours, with every callback made on each."""
    state = request.app[DISPATCH]
    now = datetime.now(timezone.utc)
    abandoned = await abandoned_calls(state.panel.services.sessions, now)
    return {
        "server_time": now.isoformat(),
        "callbacks": await callback_items(state, abandoned),
        "ami_connected": state.panel.services.daemon.link.connected,
    }
