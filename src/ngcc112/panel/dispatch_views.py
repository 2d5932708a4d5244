"""The dispatcher's, the agencies', the reports' and the admin's pages, and their live channel.

``setup(app, panel)`` registers everything here and in :mod:`ngcc112.panel.dispatch_api`:

* ``/dispatch`` — the dispatcher board (dispatcher; admin may view), what needs action first:
  escalated tickets awaiting dispatch, then agencies that cannot handle, then dispatches overdue
  for acknowledgement or arrival (``[sla] acknowledge`` / ``arrival``); then calls waiting in the
  queue, operators, dispatched incidents with each agency's status, abandoned calls to call back;
  what is past its SLA target is marked (colour and a text label); the incidents map folded below.
* ``/dispatch/tickets`` (+ ``.csv``) — find tickets (:mod:`ngcc112.panel.ticket_search`).
* ``/dispatch/tickets/{id}`` — one ticket: dispatch form, Close Ticket, callback, audit trail
  (translated, in the center's time zone). A refused form answers 303 back to the ticket
  (post/redirect/get), what was typed and why kept by :mod:`ngcc112.panel.form_memory`.
* ``/agency`` and ``/agency/dispatches/{id}`` — an agency user's own dispatches only.
* ``/reports`` (+ ``/reports.csv``), ``/admin/users``, ``/admin/agencies``.
* ``/ws/dispatch`` — the live channel: its own hub subscription, one bounded queue and one
  writer task per browser (:class:`ngcc112.panel.live.Client`). Messages say only *what*
  changed (``{type: board, what: [...], ticket_ids: [...]}``, gathered for 0.1 s so a surge
  is one message, not hundreds); the page fetches itself again (and always on every
  (re)connect). An agency user's socket hears only of tickets dispatched to their agency
  (``{type: dispatch, ticket_ids: [...]}``).

Every page has a JSON twin in :mod:`ngcc112.panel.dispatch_api`; the reads both use are here.
"""

from __future__ import annotations

import asyncio
import contextlib
import gettext
import re
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import structlog
from aiohttp import WSMsgType, web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallQueued,
    CallsResynced,
    CallWithdrawn,
    MembersResynced,
    MemberState,
    OperatorRingNoAnswer,
    OperatorRinging,
)
from ngcc112.ami.link import AmiNotConnected
from ngcc112.hub import Hub, Subscription
from ngcc112.panel import bodies, form_memory, labels
from ngcc112.panel import ticket_search as ticket_search_mod
from ngcc112.panel.auth import error_response, require
from ngcc112.panel.form_memory import recall, remember
from ngcc112.panel.i18n import LANGUAGES, add_domain, load_domain
from ngcc112.panel.live import Client, Clients
from ngcc112.panel.session_sockets import SOCKETS, sessions_changed
from ngcc112.panel.state import GETTEXT, LANG, PANEL, SESSION_HASH, USER, Panel, presence_view, ticket_view
from ngcc112.panel.views import _flash, render, render_error
from ngcc112.panel.ws import HEARTBEAT, _same_origin
from ngcc112.reports.build import FIRST_DAY, LAST_DAY, ReportError, build_report, zone
from ngcc112.reports.csv import report_to_csv
from ngcc112.reports.model import Report
from ngcc112.tickets import agencies as agency_admin
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.callback_outcomes import FINAL_OUTCOMES, OutcomeRefused, callback_history, record_outcome
from ngcc112.tickets.callbacks import CallbackAttempt, CallbackRefused, Callbacks
from ngcc112.tickets.callbacks import callback_number as callback_number_of
from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.intake_form import N_
from ngcc112.tickets.models import AuditEntry, Ticket, User
from ngcc112.tickets.sla import DEFAULT_TARGETS, SlaTargets, Stage
from ngcc112.tickets.states import Role, State, TransitionRefused
from ngcc112.tickets.store import TicketChanged, jsonable
from ngcc112.tickets.users import (
    INTERFACE_PATTERN,
    MIN_PASSWORD,
    USER_ROLES,
    USERNAME_PATTERN,
    UserError,
    add_user,
    check_account_links,
)

log = structlog.get_logger(__name__)

routes = web.RouteTableDef()
OPERATOR = Role.OPERATOR.value
DISPATCHER = Role.DISPATCHER.value
AGENCY = Role.AGENCY.value
ADMIN = Role.ADMIN.value
DOMAIN = "dispatch"

#: Ticket states on the board as incidents the agencies work on (or reported, awaiting Close Ticket).
INCIDENT_STATES = (State.DISPATCHED.value, State.ON_SCENE.value, State.REPORTED.value)
#: Ticket states before any dispatch: no agency hears of them.
_UNDISPATCHED = frozenset({State.NEW.value, State.IN_CALL.value, State.CLASSIFIED.value, State.ESCALATED.value})
#: How far back the board looks for abandoned calls to call back.
CALLBACK_WINDOW = timedelta(hours=24)
BOARD_LIMIT = 200
#: The longest report range the page makes.
MAX_REPORT_DAYS = 366
DEFAULT_REPORT_TZ = "Asia/Jakarta"

DISPATCH_STATUS_LABELS = {
    "sent": N_("Sent"),
    "acknowledged": N_("Acknowledged"),
    "en_route": N_("En route"),
    "on_scene": N_("On scene"),
    "handled": N_("Handled"),
    "cannot_handle": N_("Cannot handle"),
}
STAGE_LABELS = {
    "queue_wait": N_("Queue wait"),
    "intake": N_("Intake"),
    "classification": N_("Classification"),
    "dispatch": N_("Dispatch"),
    "field_handling": N_("Field handling"),
    "closing": N_("Closing"),
}
#: Every action an audit row can name (store: one per call event; intake, triage, dispatch,
#: callbacks, locations, backfill): a test checks this against the code that writes them.
AUDIT_ACTION_LABELS = {
    "call_arrived": N_("Call arrived"),
    "caller_identified": N_("Caller identified"),
    "call_variables": N_("Call details from Asterisk"),
    "call_queued": N_("Call queued"),
    "operator_ringing": N_("Operator's phone ringing"),
    "operator_ring_no_answer": N_("Operator did not answer"),
    "call_connected": N_("Call answered by an operator"),
    "call_abandoned": N_("Caller hung up before an answer"),
    "call_withdrawn": N_("Call left the queue"),
    "caller_talking": N_("Caller speaking"),
    "caller_digit": N_("Caller pressed a key"),
    "call_ended": N_("Call ended"),
    "recovered": N_("Recovered from Asterisk's call records"),
    "dispatch": N_("Dispatched"),
    "acknowledge": N_("Acknowledged"),
    "dispatch_status": N_("Status update"),
    "field_report": N_("Field report"),
    "close": N_("Closed"),
    "callback": N_("Callback placed"),
    "callback_result": N_("Callback result"),
    "callback_outcome": N_("Callback outcome"),
    "classify": N_("Classified"),
    "escalate": N_("Escalated"),
    "intake_saved": N_("Intake saved"),
    "scored": N_("Scored"),
    "location_fix": N_("Position received"),
    "location_accepted": N_("Position accepted"),
    "aml_received": N_("AML message received"),
    "call_note": N_("Operator's note during the call"),
}
#: The audit rows' detail keys, as the dispatcher reads them (others are shown with spaces for '_').
AUDIT_KEY_LABELS = {
    "caller_number": N_("Number"),
    "caller_name": N_("Name"),
    "caller_presentation": N_("Number shown"),
    "channel": N_("Channel"),
    "exten": N_("Dialled number"),
    "variables": N_("Call details"),
    "queue": N_("Queue"),
    "queue_position": N_("Place in the queue"),
    "queue_priority": N_("Queue priority"),
    "queued_at": N_("Queued"),
    "arrived_at": N_("Arrived"),
    "ringing_at": N_("Ringing since"),
    "ringing_interface": N_("Ringing phone"),
    "answered_at": N_("Answered"),
    "operator_interface": N_("Operator's phone"),
    "operator_name": N_("Operator"),
    "waited_seconds": N_("Waited (seconds)"),
    "ended_at": N_("Ended"),
    "hangup_cause": N_("Hang-up cause"),
    "hangup_cause_text": N_("Hang-up cause"),
    "abandoned": N_("Hung up before an answer"),
    "abandoned_at": N_("Hung up"),
    "withdrawn": N_("Left the queue"),
    "caller_talked_at": N_("Caller spoke"),
    "silent_digit": N_("Key pressed"),
    "silent_digit_at": N_("Key pressed at"),
    "state": N_("State"),
    "verdict": N_("Verdict"),
    "category": N_("Category"),
    "classified_at": N_("Classified"),
    "closed_at": N_("Closed"),
    "ghost_score": N_("Ghost score"),
    "prank_score": N_("Prank score"),
    "score_reasons": N_("Reasons"),
    "intake": N_("Intake"),
    "note": N_("Note"),
    "address": N_("Address"),
    "description": N_("Description"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "caller_waiting": N_("Caller still on the line"),
    "dispatches": N_("Agencies"),
    "dispatch": N_("Dispatch"),
    "agency": N_("Agency"),
    "instructions": N_("Instructions"),
    "status": N_("Status"),
    "reason": N_("Reason"),
    "report": N_("Field report"),
    "on_behalf_of": N_("On behalf of"),
    "acknowledged_at": N_("Acknowledged"),
    "acknowledged_by": N_("Acknowledged by"),
    "override_reason": N_("Reason for closing now"),
    "unreported": N_("Not reported"),
    "number": N_("Number"),
    "interface": N_("Softphone"),
    "outcome": N_("Outcome"),
    "result": N_("Result"),
    "reason_text": N_("Meaning"),
    "message": N_("Message"),
    "fix_id": N_("Position"),
    "source": N_("Source"),
    "radius_m": N_("Accuracy (m)"),
    "confidence_pct": N_("Confidence (%)"),
    "method": N_("Method"),
    "time": N_("Measured"),
    "doubts": N_("Doubts"),
    "errors": N_("Errors"),
}
CALLBACK_LABELS = {
    "queued": N_("Queued"),
    "refused": N_("Refused by Asterisk"),
    "unknown": N_("Unknown (no answer from Asterisk)"),
    "success": N_("Answered"),
    "failure": N_("Not answered"),
}
CALLBACK_OUTCOME_LABELS = {
    "reached": N_("Reached"),
    "no_answer": N_("No answer"),
    "dismissed": N_("Dismissed"),
}
AGENCY_KIND_LABELS = {"OPD": N_("OPD (regional government unit)"), "Instansi": N_("Instansi (other agency)")}
#: Messages this module's Python code shows (errors and notices); translated where shown.
MESSAGES = (
    N_("Choose at least one agency"),
    N_("Too long"),
    N_("Give the reason for closing before every agency has reported"),
    N_("Choose a status from the list"),
    N_("Say why the agency cannot handle it"),
    N_("Write the field report"),
    N_("Dispatched to the agencies"),
    N_("Ticket closed"),
    N_("Acknowledged"),
    N_("Status updated"),
    N_("Field report sent"),
    N_("This action is not possible for this ticket now"),
    N_("Asterisk is not connected: the callback was not placed. Try again in a moment."),
    N_("Callback placed: your softphone rings first"),
    N_("The callback could not be placed"),
    N_("Enter a date like 2026-11-28"),
    N_("The end is before the start"),
    N_("At most 366 days"),
    N_("Unknown time zone; use a name such as Asia/Jakarta"),
    N_("2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter"),
    N_("At least 8 characters"),
    N_("Choose a role from the list"),
    N_("A softphone interface like PJSIP/op1, or empty"),
    N_("Choose an agency from the list"),
    N_("2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter"),
    N_("Enter a name"),
    N_("Choose OPD or Instansi"),
    N_("User added"),
    N_("User updated"),
    N_("Agency added"),
    N_("Agency updated"),
    N_("Not accepted"),
    N_("Your role may not do this"),
    N_("Please log in"),
    N_("Not found"),
    N_("Yes"),
    N_("No"),
    N_("System"),
    N_("The agency said it cannot handle this dispatch: its reason is the report, no field report follows"),
    N_("Choose an outcome from the list"),
    N_("This call was not abandoned: there is no callback to record"),
    N_("The outcome of this callback is already recorded"),
    N_("Outcome recorded"),
)


# -- translations ----------------------------------------------------------------------------


def load_dispatch_catalogs() -> dict[str, gettext.NullTranslations]:
    """This module's catalogs (``locale/<lang>/LC_MESSAGES/{DOMAIN}.po``), compiled in memory."""
    return {language: load_domain(language, DOMAIN) for language in LANGUAGES}


def merge_catalogs(catalogs: dict[str, gettext.NullTranslations]) -> None:
    """Let the panel's catalogs fall back to ours for msgids they do not have. Idempotent."""
    add_domain(catalogs, DOMAIN)


# -- the queue's waiting calls --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingCall:
    call_id: str
    queue: str
    queued_at: datetime
    arrived_at: datetime
    position: int | None
    priority: int | None


#: Changes are gathered this long and then told in one message per browser.
FLUSH_SECONDS = 0.1
#: Arrivals and priorities remembered for calls not (yet) in the queue.
_MEMORY = 2000


class WaitingBoard:
    """Callers waiting in the queue, from the hub's call events; priority from triage's ``scored``."""

    def __init__(self) -> None:
        self._calls: dict[str, WaitingCall] = {}
        self._arrived: OrderedDict[str, datetime] = OrderedDict()
        self._priorities: OrderedDict[str, int] = OrderedDict()

    @staticmethod
    def _remember(memory: OrderedDict[str, Any], key: str, value: Any) -> None:
        memory[key] = value
        memory.move_to_end(key)
        while len(memory) > _MEMORY:
            memory.popitem(last=False)

    def apply(self, item: object) -> bool:
        """Apply one hub item; True when the waiting list changed."""
        if isinstance(item, CallArrived):
            self._remember(self._arrived, item.call_id, item.at)
            return False
        if isinstance(item, CallQueued):
            self._calls[item.call_id] = WaitingCall(
                item.call_id,
                item.queue,
                item.at,
                self._arrived.get(item.call_id, item.at),
                item.position,
                self._priorities.get(item.call_id),
            )
            return True
        if isinstance(item, (CallConnected, CallAbandoned, CallEnded, CallWithdrawn)):
            self._arrived.pop(item.call_id, None) if isinstance(item, CallEnded) else None
            return self._calls.pop(item.call_id, None) is not None
        if isinstance(item, CallsResynced):
            gone = [c for c in self._calls if c not in item.live_call_ids]
            for call_id in gone:
                del self._calls[call_id]
            return bool(gone)
        if isinstance(item, TicketChanged) and isinstance(item.changes.get("queue_priority"), int):
            priority = item.changes["queue_priority"]
            self._remember(self._priorities, item.linkedid, priority)
            waiting = self._calls.get(item.linkedid)
            if waiting is not None and waiting.priority != priority:
                self._calls[item.linkedid] = WaitingCall(
                    waiting.call_id, waiting.queue, waiting.queued_at, waiting.arrived_at, waiting.position, priority
                )
                return True
        return False

    def calls(self) -> list[WaitingCall]:
        """Highest priority first, then longest waiting (Asterisk's own order)."""
        return sorted(self._calls.values(), key=lambda c: (-(c.priority or 0), c.queued_at))


# -- the live channel -----------------------------------------------------------------------


class DispatchLive:
    """Feeds the waiting board from the hub and tells the dispatch pages what changed."""

    def __init__(
        self,
        hub: Hub,
        sessions: async_sessionmaker[AsyncSession],
        waiting: WaitingBoard,
        observe: Callable[[object], None] | None = None,
    ) -> None:
        self._hub = hub
        self._sessions = sessions
        self.waiting = waiting
        self._observe = observe
        self.clients = Clients("dispatch")
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.TimerHandle | None = None
        self._staff_what: set[str] = set()
        self._staff_tickets: set[int] = set()
        self._agency_dirty: dict[int, set[int]] = {}

    async def start(self) -> None:
        self._subscription = self._hub.subscribe(maxsize=10000)
        self._task = asyncio.create_task(self._consume(), name="ngcc112-dispatch-live")

    async def stop(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._subscription is not None:
            self._subscription.close()
        await self.close_clients()

    async def close_clients(self) -> None:
        await self.clients.close_all()

    def add(self, ws: web.WebSocketResponse, user: User, agency_id: int | None) -> Client:
        return self.clients.add(
            ws, user_id=user.id, role=user.role, interface=None, describe=lambda member: {}, agency_id=agency_id
        )

    async def remove(self, client: Client) -> None:
        await self.clients.remove(client)

    @property
    def client_count(self) -> int:
        return len(self.clients)

    @property
    def dropped_clients(self) -> int:
        return self.clients.dropped

    def _send(self, client: Client, message: dict[str, Any]) -> None:
        self.clients.send(client, message)

    def _to_staff(self, message: dict[str, Any]) -> None:
        for client in self.clients:
            if client.role != AGENCY:
                self._send(client, message)

    async def _consume(self) -> None:
        while True:
            assert self._subscription is not None  # set in start(); narrows the type
            item = await self._subscription.get()
            if self._subscription.overflowed:
                log.error("dispatch.live_overflow")
                self._subscription.close()
                self._subscription = self._hub.subscribe(maxsize=10000)
                for client in self.clients:
                    self._send(client, {"type": "resync"})
            try:
                await self.handle(item)
            except Exception:
                log.exception("dispatch.live_event_failed", item=type(item).__name__)
            await asyncio.sleep(0)

    async def handle(self, item: object) -> None:
        if self._observe is not None:
            self._observe(item)
        if self.waiting.apply(item):
            self._mark("queue")
        if isinstance(item, (MemberState, MembersResynced, OperatorRinging, OperatorRingNoAnswer, CallConnected)):
            self._mark("operators")
        if isinstance(item, TicketChanged):
            self._mark("tickets", item.ticket_id)
            agency_clients = [c for c in self.clients if c.role == AGENCY]
            # A ticket not dispatched yet has no agency to tell (and most call events are such).
            if agency_clients and item.state not in _UNDISPATCHED:
                allowed = await dispatching.ticket_agencies(self._sessions, item.ticket_id)
                for client in agency_clients:
                    if client.agency_id in allowed:
                        self._agency_dirty.setdefault(client.id, set()).add(item.ticket_id)
                        self._schedule()

    # coalescing: a burst of events (a surge of calls) becomes one message per browser -------
    def _mark(self, what: str, ticket_id: int | None = None) -> None:
        self._staff_what.add(what)
        if ticket_id is not None:
            self._staff_tickets.add(ticket_id)
        self._schedule()

    def _schedule(self) -> None:
        if self._flush_handle is None:
            self._flush_handle = asyncio.get_running_loop().call_later(FLUSH_SECONDS, self.flush)

    def flush(self) -> None:
        """Send what changed since the last flush: one message per browser."""
        self._flush_handle = None
        if self._staff_what:
            message = {"type": "board", "what": sorted(self._staff_what), "ticket_ids": sorted(self._staff_tickets)}
            self._staff_what, self._staff_tickets = set(), set()
            self._to_staff(message)
        dirty, self._agency_dirty = self._agency_dirty, {}
        for client_id, ticket_ids in dirty.items():
            client = self.clients.get(client_id)
            if client is not None:
                self._send(client, {"type": "dispatch", "ticket_ids": sorted(ticket_ids)})


# -- per-app state ---------------------------------------------------------------------------


@dataclass
class DispatchState:
    panel: Panel
    live: DispatchLive
    callbacks: Callbacks
    targets: SlaTargets = DEFAULT_TARGETS
    report_tz: str = DEFAULT_REPORT_TZ
    extra: dict[str, Any] = field(default_factory=dict)
    #: The board's clock (aware UTC); tests put their own.
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))


DISPATCH = web.AppKey("ngcc112_dispatch", DispatchState)


async def _run_live(app: web.Application) -> AsyncIterator[None]:
    state = app[DISPATCH]
    state.callbacks.attach(state.panel.services.daemon.link)
    await state.live.start()
    yield
    await state.live.stop()
    await state.callbacks.close()


async def _close_websockets(app: web.Application) -> None:
    await app[DISPATCH].live.close_clients()


def setup(
    app: web.Application, panel: Panel, *, targets: SlaTargets | None = None, report_tz: str | None = None
) -> DispatchState:
    """Register the dispatch pages, API, live channel and translations on the panel's ``app``.

    The SLA targets and the reports' time zone default to the settings' ``[sla]`` and
    ``timezone`` (as ``ngcc112 report`` uses them).
    """
    from ngcc112.panel import dispatch_api

    services = panel.services
    settings = services.settings
    if targets is None:
        targets = getattr(settings, "sla", None) or DEFAULT_TARGETS
    if report_tz is None:
        report_tz = getattr(settings, "timezone", None) or DEFAULT_REPORT_TZ
    merge_catalogs(panel.catalogs)
    callbacks = Callbacks(services.sessions, services.daemon.link, services.hub.publish)
    live = DispatchLive(services.hub, services.sessions, WaitingBoard(), callbacks.observe)
    state = DispatchState(panel=panel, live=live, callbacks=callbacks, targets=targets, report_tz=report_tz)
    app[DISPATCH] = state
    form_memory.install(app)
    env = aiohttp_jinja2.get_env(app)
    env.globals["center_tz"] = report_tz
    env.filters["local_time"] = local_time
    app.add_routes(routes)
    app.add_routes(dispatch_api.routes)
    app.cleanup_ctx.append(_run_live)
    app.on_shutdown.append(_close_websockets)
    return state


# -- times in the center's zone ---------------------------------------------------------------


def local_time(value: datetime | str | None, tz: str = DEFAULT_REPORT_TZ) -> str:
    """A moment as the center reads it: ``2026-12-01 19:05:03 WIB`` (its zone's own abbreviation)."""
    if value is None or value == "":
        return "—"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:  # stored naive (SQLite) means UTC
        moment = moment.replace(tzinfo=timezone.utc)
    try:
        local = moment.astimezone(zone(tz))
    except ReportError:
        local = moment.astimezone(timezone.utc)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")


# -- SLA on the board -----------------------------------------------------------------------


def answer_target(targets: SlaTargets) -> float | None:
    """The answer-time standard a waiting call is judged by: 15 s when offered, else the middle one."""
    thresholds = targets.answer_thresholds
    if not thresholds:
        return None
    return 15.0 if 15.0 in thresholds else thresholds[len(thresholds) // 2]


def _age(since: datetime | None, now: datetime) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())


def _overdue(seconds: float | None, target: float | None) -> bool:
    return seconds is not None and target is not None and seconds > target


async def _entered(sessions: async_sessionmaker[AsyncSession], ticket_ids: list[int]) -> dict[int, dict[str, datetime]]:
    """When each ticket first entered each state (from its audit rows)."""
    if not ticket_ids:
        return {}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(AuditEntry.ticket_id, AuditEntry.to_state, func.min(AuditEntry.at))
                .where(
                    AuditEntry.ticket_id.in_(ticket_ids),
                    AuditEntry.to_state.is_not(None),
                    (AuditEntry.from_state.is_(None)) | (AuditEntry.from_state != AuditEntry.to_state),
                )
                .group_by(AuditEntry.ticket_id, AuditEntry.to_state)
            )
        ).all()
    out: dict[int, dict[str, datetime]] = {}
    for ticket_id, to_state, at in rows:
        out.setdefault(ticket_id, {})[to_state] = at
    return out


async def _dispatches_on(
    sessions: async_sessionmaker[AsyncSession], states: dict[int, str]
) -> dict[int, list[dispatching.DispatchView]]:
    """Every dispatch on these tickets (staff see all), in one query: the board's incidents."""
    if not states:
        return {}
    async with sessions() as session:
        rows = (
            await session.execute(
                select(Dispatch, Agency)
                .join(Agency, Agency.id == Dispatch.agency_id)
                .where(Dispatch.ticket_id.in_(states))
                .order_by(Dispatch.id)
            )
        ).all()
    out: dict[int, list[dispatching.DispatchView]] = {}
    for item, agency in rows:
        out.setdefault(item.ticket_id, []).append(
            dispatching.DispatchView(
                id=item.id,
                ticket_id=item.ticket_id,
                ticket_state=states[item.ticket_id],
                agency_code=agency.code,
                agency_name=agency.name,
                status=item.status,
                instructions=item.instructions,
                sent_at=item.sent_at,
                sent_by=item.sent_by,
                acknowledged_at=item.acknowledged_at,
                acknowledged_by=item.acknowledged_by,
                en_route_at=item.en_route_at,
                on_scene_at=item.on_scene_at,
                finished_at=item.finished_at,
                reason=item.reason,
                report=item.report,
                reported_at=item.reported_at,
                reported_by=item.reported_by,
            )
        )
    return out


def _brief(ticket: Ticket) -> dict[str, Any]:
    intake = ticket.intake or {}
    return jsonable(
        {
            "id": ticket.id,
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


# -- reads shared by the pages and the API ----------------------------------------------------


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
    for call in state.live.waiting.calls():
        number, name = panel.calls.caller(call.call_id)
        seconds = _age(call.arrived_at, now)
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
                    "overdue": _overdue(seconds, wait_target),
                }
            )
        )

    operators = []
    for member in panel.presence.members():
        view = presence_view(member, translate)
        desk = panel.calls.desk(member.interface)
        active_since = desk.active.at if desk.active is not None and not desk.active.ended else None
        seconds = _age(active_since, now)
        view.update(
            jsonable(
                {
                    "ringing": desk.ringing.call_id if desk.ringing else None,
                    "active": desk.active.call_id if desk.active else None,
                    "active_since": active_since,
                    "active_seconds": seconds,
                    "target_seconds": targets.intake,
                    "overdue": _overdue(seconds, targets.intake),
                }
            )
        )
        operators.append(view)

    async with sessions() as session:
        open_tickets = (
            await session.scalars(
                select(Ticket)
                .where(Ticket.state.in_((State.ESCALATED.value, *INCIDENT_STATES)))
                .order_by(Ticket.arrived_at, Ticket.id)
                .limit(BOARD_LIMIT)
            )
        ).all()
        abandoned = await _abandoned(session, now)
    moments = await _entered(sessions, [t.id for t in open_tickets])
    dispatch_rows = await _dispatches_on(
        sessions, {t.id: t.state for t in open_tickets if t.state != State.ESCALATED.value}
    )

    escalated, incidents = [], []
    for ticket in open_tickets:
        seen = moments.get(ticket.id, {})
        item = _brief(ticket)
        if ticket.state == State.ESCALATED.value:
            since = seen.get(State.ESCALATED.value)
            seconds = _age(since, now)
            item.update(
                jsonable(
                    {
                        "escalated_at": since,
                        "wait_seconds": seconds,
                        "target_seconds": targets.dispatch,
                        "overdue": _overdue(seconds, targets.dispatch),
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
        seconds, target = _age(since, now), targets.target(stage)
        summaries = [
            _judged(dispatching.dispatch_summary(v), v, targets, now) for v in sorted(views, key=lambda v: v.id)
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
                    "overdue": _overdue(seconds, target)
                    or any(d["ack_overdue"] or d["arrival_overdue"] for d in summaries),
                    "cannot_handle": any(d["status"] == CANNOT_HANDLE for d in summaries),
                    "dispatches": summaries,
                }
            )
        )
        incidents.append(item)

    escalated.sort(key=lambda item: (item["escalated_at"] or "", item["id"]))  # longest waiting first
    callbacks = await _callback_items(state, abandoned)
    return {
        "server_time": now.isoformat(),
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
_NOT_ARRIVED = frozenset(
    {
        dispatching.DispatchStatus.SENT.value,
        dispatching.DispatchStatus.ACKNOWLEDGED.value,
        dispatching.DispatchStatus.EN_ROUTE.value,
    }
)
#: What needs the dispatcher, most urgent kind first: the board lists them in this order.
ATTENTION_KINDS = ("awaiting_dispatch", "cannot_handle", "overdue_acknowledgement", "overdue_arrival")
ATTENTION_LABELS = {
    "awaiting_dispatch": N_("Awaiting dispatch"),
    "cannot_handle": N_("Agency cannot handle"),
    "overdue_acknowledgement": N_("Not acknowledged in time"),
    "overdue_arrival": N_("Not on scene in time"),
}


def _judged(
    summary: dict[str, Any], view: dispatching.DispatchView, targets: SlaTargets, now: datetime
) -> dict[str, Any]:
    """One dispatch with its clocks against the agency targets (from the moment it was sent)."""
    seconds = _age(view.sent_at, now)
    ack = view.status == dispatching.DispatchStatus.SENT.value and _overdue(seconds, targets.acknowledge)
    arrival = view.status in _NOT_ARRIVED and _overdue(seconds, targets.arrival)
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


async def _abandoned(session: AsyncSession, now: datetime) -> list[Ticket]:
    """Calls that hung up before an operator answered, not yet dealt with: callback candidates."""
    return list(
        (
            await session.scalars(
                select(Ticket)
                .where(
                    Ticket.abandoned.is_(True),
                    Ticket.answered_at.is_(None),
                    Ticket.state == State.NEW.value,
                    Ticket.arrived_at >= now - CALLBACK_WINDOW,
                )
                .order_by(Ticket.arrived_at.desc(), Ticket.id.desc())
                .limit(BOARD_LIMIT)
            )
        ).all()
    )


async def _callback_items(state: DispatchState, abandoned: list[Ticket]) -> list[dict[str, Any]]:
    history = await callback_history(state.panel.services.sessions, [t.id for t in abandoned])
    items = []
    for ticket in abandoned:
        item = _brief(ticket)
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
    async with state.panel.services.sessions() as session:
        abandoned = await _abandoned(session, now)
    return {
        "server_time": now.isoformat(),
        "callbacks": await _callback_items(state, abandoned),
        "ami_connected": state.panel.services.daemon.link.connected,
    }


_ISO_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([+-][0-9]{2}:[0-9]{2}|Z)?")
#: Values shown through a label table, by the key they come under.
_VALUE_LABELS = {
    "status": DISPATCH_STATUS_LABELS,
    "state": labels.STATE_LABELS,
    "verdict": labels.VERDICT_LABELS,
    "category": labels.CATEGORY_LABELS,
    "outcome": CALLBACK_LABELS,
    "result": CALLBACK_LABELS,
}


class AuditReader:
    """An audit row as the dispatcher reads it: translated labels, local times, key: value details."""

    def __init__(self, translate: Callable[[str], str], tz: str, roles: dict[str, str]) -> None:
        self.translate, self.tz, self.roles = translate, tz, roles

    def key(self, key: str, *, nested: bool = False) -> str:
        """A known key translated; another top-level one spelled out; a nested one (a channel
        variable, an intake field of its own) as it is."""
        label = AUDIT_KEY_LABELS.get(key)
        if label:
            return self.translate(label)
        return key if nested else key.replace("_", " ").capitalize()

    def value(self, key: str, value: Any) -> str:
        t = self.translate
        if value is None or value == "" or value == [] or value == {}:
            return "—"
        if isinstance(value, bool):
            return t("Yes") if value else t("No")
        if isinstance(value, float):
            return f"{value:.2f}".rstrip("0").rstrip(".")
        if isinstance(value, str):
            table = _VALUE_LABELS.get(key)
            if table is not None and value in table:
                return t(table[value])
            if _ISO_MOMENT.fullmatch(value):
                return local_time(value, self.tz)
            return value
        if isinstance(value, dict):
            if set(value) == {"from", "to"}:
                return f"{self.value(key, value['from'])} → {self.value(key, value['to'])}"
            return ", ".join(f"{self.key(k, nested=True)}: {self.value(k, v)}" for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return "; ".join(self.value(key, item) for item in value)
        return str(value)

    def actor_role(self, actor: str) -> str:
        role = self.roles.get(actor)
        return self.translate(labels.ROLE_LABELS[role]) if role in labels.ROLE_LABELS else self.translate("System")

    def row(self, entry: AuditEntry) -> dict[str, Any]:
        changes = entry.changes or {}
        view = jsonable(
            {
                "at": entry.at,
                "actor": entry.actor,
                "action": entry.action,
                "from_state": entry.from_state,
                "to_state": entry.to_state,
                "changes": changes,
            }
        )
        label = AUDIT_ACTION_LABELS.get(entry.action)
        view.update(
            {
                "at_local": local_time(entry.at, self.tz),
                "action_label": self.translate(label) if label else entry.action.replace("_", " "),
                "actor_role": self.roles.get(entry.actor),
                "actor_label": self.actor_role(entry.actor),
                "details": [
                    {"key": k, "label": self.key(k), "text": self.value(k, jsonable(v))}
                    for k, v in changes.items()
                    if k != "state"
                ],
            }
        )
        return view


async def actor_roles(sessions: async_sessionmaker[AsyncSession], actors: set[str]) -> dict[str, str]:
    """The role of each actor who is a user (automatic actors — Asterisk, triage, AML — are not)."""
    if not actors:
        return {}
    async with sessions() as session:
        return dict(
            (await session.execute(select(User.username, User.role).where(User.username.in_(actors)))).tuples().all()
        )


async def audit_trail(request: web.Request, ticket_id: int) -> list[dict[str, Any]]:
    state = request.app[DISPATCH]
    services = state.panel.services
    entries = await services.store.audit(ticket_id)
    roles = await actor_roles(services.sessions, {e.actor for e in entries})
    reader = AuditReader(request[GETTEXT], state.report_tz, roles)
    return [reader.row(e) for e in entries]


async def ticket_data(request: web.Request, ticket_id: int) -> dict[str, Any]:
    """One ticket for the dispatcher: the ticket, every dispatch, the audit trail, what may be done.

    Raises :class:`~ngcc112.tickets.dispatch.NotFoundOrForbidden` for an unknown ticket.
    """
    state = request.app[DISPATCH]
    panel = state.panel
    user: User = request[USER]
    sessions = panel.services.sessions
    found = await dispatching.get_ticket_for(sessions, user, ticket_id)
    ticket = found.ticket
    view = await ticket_view(panel, ticket)
    now = state.now()
    judge = ticket.state != State.CLOSED.value
    dispatches = [
        _judged(dispatching.dispatch_summary(v), v, state.targets, now)
        if judge
        else {**dispatching.dispatch_summary(v), "ack_overdue": False, "arrival_overdue": False}
        for v in found.dispatches
    ]
    on_ticket = {d["agency"] for d in dispatches}
    offered = [
        {"code": a.code, "name": a.name, "kind": a.kind}
        for a in await agency_admin.list_agencies(sessions, active_only=True)
        if a.code not in on_ticket
    ]
    is_dispatcher = user.role == DISPATCHER
    ticket_state = State(ticket.state)
    can_dispatch = is_dispatcher and ticket_state in (State.ESCALATED, *dispatching.WORKING_STATES)
    can_close = is_dispatcher and ticket_state in dispatching.CLOSABLE_STATES
    return {
        "ticket": view,
        "dispatches": dispatches,
        "audit": await audit_trail(request, ticket.id),
        "agencies": offered,
        "can_dispatch": can_dispatch and bool(offered),
        "can_close": can_close,
        "needs_override": can_close and ticket_state is not State.REPORTED,
        "can_callback": user.role in (OPERATOR, DISPATCHER)
        and bool(user.interface)
        and callback_number_of(ticket) is not None
        and ticket.state != State.CLOSED.value,
        "callback_number": callback_number_of(ticket),
        "callback_pending": state.callbacks.pending_for(ticket.id) is not None,
    }


async def agency_dispatches(request: web.Request) -> dict[str, Any]:
    """An agency user's own dispatches: open ones first, then the finished ones."""
    panel = request.app[PANEL]
    user: User = request[USER]
    sessions = panel.services.sessions
    agency = await agency_admin.agency_of(sessions, user.id)
    views = await dispatching.visible_dispatches(sessions, user, limit=200)
    summaries = [dispatching.dispatch_summary(v) for v in views]
    tickets: dict[int, dict[str, Any]] = {}
    async with sessions() as session:
        for ticket in (await session.scalars(select(Ticket).where(Ticket.id.in_({v.ticket_id for v in views})))).all():
            tickets[ticket.id] = _brief(ticket)
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
            **_brief(ticket),
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
    ("finished", None, "finished_at", None),
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


# -- helpers for refusals -----------------------------------------------------------------


def translate_errors(request: web.Request, errors: dict[str, str]) -> dict[str, str]:
    translate = request[GETTEXT]
    return {key: translate(value) for key, value in errors.items()}


def refusal_reason(request: web.Request, exc: TransitionRefused) -> str:
    """Why it was refused: translated when the refusal carries a ``msgid``, else the use case's words."""
    msgid = getattr(exc, "msgid", None)
    if msgid is None:
        return exc.reason
    return request[GETTEXT](msgid).format(**getattr(exc, "params", {}))


def refused_text(request: web.Request, exc: TransitionRefused) -> str:
    return f"{request[GETTEXT]('This action is not possible for this ticket now')}: {refusal_reason(request, exc)}"


def form_list(form: Any, key: str) -> list[str]:
    return [str(v) for v in form.getall(key, [])] if hasattr(form, "getall") else []


def validate_dispatch(agencies: list[str], instructions: str) -> dict[str, str]:
    errors = {}
    if not agencies:
        errors["agencies"] = N_("Choose at least one agency")
    if len(instructions) > dispatching.MAX_INSTRUCTIONS:
        errors["instructions"] = N_("Too long")
    return errors


def needs_override(ticket_state: str) -> bool:
    """Close Ticket needs an override reason: the agencies are still at it (a closed ticket is refused)."""
    return ticket_state in {s.value for s in dispatching.CLOSABLE_STATES} and ticket_state != State.REPORTED.value


def validate_close(needs_override: bool, override_reason: str) -> dict[str, str]:
    if len(override_reason) > dispatching.MAX_REASON:
        return {"override_reason": N_("Too long")}
    if needs_override and not override_reason.strip():
        return {"override_reason": N_("Give the reason for closing before every agency has reported")}
    return {}


def validate_status(status: str, reason: str) -> dict[str, str]:
    if status not in {s.value for s in dispatching.STATUS_UPDATES}:
        return {"status": N_("Choose a status from the list")}
    if len(reason) > dispatching.MAX_REASON:
        return {"reason": N_("Too long")}
    if status == dispatching.DispatchStatus.CANNOT_HANDLE.value and not reason.strip():
        return {"reason": N_("Say why the agency cannot handle it")}
    return {}


def validate_report(text: str) -> dict[str, str]:
    if not text.strip():
        return {"report": N_("Write the field report")}
    if len(text) > dispatching.MAX_REPORT:
        return {"report": N_("Too long")}
    return {}


async def ticket_state_of(request: web.Request, ticket_id: int) -> str | None:
    ticket = await request.app[PANEL].services.store.get(ticket_id)
    return None if ticket is None else ticket.state


# -- the dispatcher's pages ---------------------------------------------------------------


def _page_values(request: web.Request, **values: Any) -> dict[str, Any]:
    """What every dispatch page's template gets; the error summary is built from ``errors``
    (and ``form_error``, about the form as a whole) unless a page passes its own."""
    page = {
        "dlabels": _Labels,
        "click_id": secrets.token_urlsafe(12),
        "error": None,
        "flash": None,
        "errors": {},
        "values": {},
        **values,
    }
    if "summary" not in values:
        whole = values.get("form_error")
        first = [{"href": None, "field": None, "text": whole}] if whole else []
        page["summary"] = first + error_summary(page["errors"])
    return page


class _Labels:
    """Label tables for the templates (``dlabels``)."""

    DISPATCH_STATUS = DISPATCH_STATUS_LABELS
    STAGE = STAGE_LABELS
    ATTENTION = ATTENTION_LABELS
    AUDIT_ACTION = AUDIT_ACTION_LABELS
    AGENCY_KIND = AGENCY_KIND_LABELS
    CALLBACK = CALLBACK_LABELS
    CALLBACK_OUTCOME = CALLBACK_OUTCOME_LABELS


@routes.get("/dispatch", name="dispatch_board")
@require(DISPATCHER, ADMIN)
async def board_page(request: web.Request) -> web.StreamResponse:
    values = _page_values(
        request, board=await board_data(request), flash=await _flash(request), **_page_refusal(request, "/dispatch")
    )
    return await render(request, "dispatch/board.html", values)


#: Where the error summary's link for each form field goes (the field itself, or its group).
FIELD_ANCHORS = {
    "agencies": "agencies-error",
    "instructions": "instructions",
    "override_reason": "override_reason",
    "page": "page-error",
}


def error_summary(errors: dict[str, str]) -> list[dict[str, str | None]]:
    """The page-top summary of a refused form: each (translated) message, linked to its field."""
    return [
        {
            "href": None if key in (form_memory.FORM, "") else "#" + FIELD_ANCHORS.get(key, key),
            "field": key,
            "text": text,
        }
        for key, text in errors.items()
    ]


def _ticket_form_key(ticket_id: int) -> str:
    return f"dispatch-ticket-{ticket_id}"


async def ticket_page(request: web.Request, ticket_id: int) -> web.Response:
    """The ticket page; a form refused just before (kept by :mod:`.form_memory`) shows its errors."""
    try:
        data = await ticket_data(request, ticket_id)
    except dispatching.NotFoundOrForbidden:
        return await render_error(request, 404, request[GETTEXT]("Not found"))
    kept = form_memory.recall(request, _ticket_form_key(ticket_id))
    errors = {k: v for k, v in kept.errors.items() if k != form_memory.FORM} if kept else {}
    page = _page_values(
        request,
        data=data,
        errors=errors,
        values=kept.values if kept else {},
        flash=await _flash(request),
        summary=error_summary(kept.errors) if kept else [],
    )
    return await render(request, "dispatch/ticket.html", page)


def refuse_form(
    request: web.Request, key: str, values: dict[str, Any], errors: dict[str, str], back: str
) -> web.HTTPSeeOther:
    """Post/redirect/get for a refused form: keep what was typed and why, and go back to ``back``."""
    form_memory.remember(request, key, values, errors)
    return web.HTTPSeeOther(back)


@routes.get("/dispatch/tickets/{ticket_id:\\d+}", name="dispatch_ticket")
@require(DISPATCHER, ADMIN)
async def ticket_get(request: web.Request) -> web.StreamResponse:
    return await ticket_page(request, int(request.match_info["ticket_id"]))


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/dispatch")
@require(DISPATCHER)
async def dispatch_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    page = f"/dispatch/tickets/{ticket_id}"
    form = await request.post()
    chosen = form_list(form, "agencies")
    instructions = str(form.get("instructions", ""))
    values = {"agencies": chosen, "instructions": instructions}
    errors = translate_errors(request, validate_dispatch(chosen, instructions))
    if not errors:
        panel = request.app[PANEL]
        try:
            await dispatching.dispatch(
                panel.services.sessions, panel.services.hub.publish, ticket_id, chosen, instructions, request[USER]
            )
        except dispatching.NotFoundOrForbidden:
            return await render_error(request, 404, request[GETTEXT]("Not found"))
        except dispatching.DispatchError as exc:
            errors = {exc.field: exc.translated(request[GETTEXT])}
        except TransitionRefused as exc:
            errors = {form_memory.FORM: refused_text(request, exc)}
    if errors:
        raise refuse_form(request, _ticket_form_key(ticket_id), values, errors, page)
    await _flash(request, "Dispatched to the agencies")
    raise web.HTTPSeeOther(page)


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/close")
@require(DISPATCHER)
async def close_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    page = f"/dispatch/tickets/{ticket_id}"
    form = await request.post()
    reason = str(form.get("override_reason", ""))
    values = {"override_reason": reason}
    current = await ticket_state_of(request, ticket_id)
    if current is None:
        return await render_error(request, 404, request[GETTEXT]("Not found"))
    errors = translate_errors(request, validate_close(needs_override(current), reason))
    if not errors:
        panel = request.app[PANEL]
        try:
            await dispatching.close(
                panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], reason or None
            )
        except dispatching.NotFoundOrForbidden:
            return await render_error(request, 404, request[GETTEXT]("Not found"))
        except dispatching.DispatchError as exc:
            errors = {exc.field: exc.translated(request[GETTEXT])}
        except TransitionRefused as exc:
            errors = {form_memory.FORM: refused_text(request, exc)}
    if errors:
        raise refuse_form(request, _ticket_form_key(ticket_id), values, errors, page)
    await _flash(request, "Ticket closed")
    raise web.HTTPSeeOther(page)


async def place_callback(
    request: web.Request, ticket_id: int, click_id: str | None
) -> CallbackAttempt | tuple[int, str, str]:
    """The callback, or (HTTP status, message, code) when it was not placed."""
    state = request.app[DISPATCH]
    try:
        return await state.callbacks.call_back(ticket_id, request[USER], click_id)
    except CallbackRefused as exc:
        return exc.status, exc.reason, exc.code
    except AmiNotConnected:
        return 503, "Asterisk is not connected: the callback was not placed. Try again in a moment.", "asterisk"


@routes.get("/callbacks", name="callbacks")
@require(OPERATOR, DISPATCHER, ADMIN)
async def callbacks_page(request: web.Request) -> web.StreamResponse:
    """Abandoned calls to call back: for operators (whose desk is elsewhere) as for dispatchers."""
    values = _page_values(
        request,
        board=await callbacks_data(request),
        flash=await _flash(request),
        **_page_refusal(request, "/callbacks"),
    )
    return await render(request, "dispatch/callbacks.html", values)


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/callback")
@require(OPERATOR, DISPATCHER)
async def callback_submit(request: web.Request) -> web.StreamResponse:
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    result = await place_callback(request, ticket_id, str(form.get("click_id", "")) or None)
    ticket_page_path = f"/dispatch/tickets/{ticket_id}"
    back = {"board": "/dispatch", "callbacks": "/callbacks"}.get(str(form.get("back", "")), ticket_page_path)
    if request[USER].role != DISPATCHER:
        back = "/callbacks"
    translate = request[GETTEXT]
    text = None
    if isinstance(result, tuple):
        status, message, _code = result
        if status == 404:
            return await render_error(request, 404, translate("Not found"))
        text = translate(message) if status == 503 else f"{translate('The callback could not be placed')}: {message}"
    elif result.outcome == "refused":
        text = f"{translate('The callback could not be placed')}: {result.message}"
    if text is not None:
        key = _ticket_form_key(ticket_id) if back == ticket_page_path else _page_form_key(back)
        raise refuse_form(request, key, {}, {form_memory.FORM: text}, back)
    await _flash(request, "Callback placed: your softphone rings first")
    raise web.HTTPSeeOther(back)


# -- finding tickets -----------------------------------------------------------------------


async def ticket_search(
    request: web.Request,
) -> tuple[ticket_search_mod.TicketQuery | None, dict[str, str], dict[str, str], list[dict[str, str]]]:
    """The search's query from the request's GET parameters: (query or None, errors, values, agencies)."""
    state = request.app[DISPATCH]
    agencies = [
        {"code": a.code, "name": a.name} for a in await agency_admin.list_agencies(state.panel.services.sessions)
    ]
    query, errors, values = ticket_search_mod.parse_ticket_query(
        request.query, {a["code"] for a in agencies}, state.report_tz
    )
    return query, errors, values, agencies


def _when(request: web.Request) -> Callable[[datetime | None], str]:
    tz = request.app[DISPATCH].report_tz
    return lambda moment: local_time(moment, tz)


def _search_link(values: dict[str, str], **changes: Any) -> str:
    wanted = {
        k: v for k, v in {**values, **changes}.items() if v not in ("", None) and not (k == "page" and str(v) == "1")
    }
    return "?" + urlencode(wanted) if wanted else ""


@routes.get("/dispatch/tickets", name="dispatch_tickets")
@require(DISPATCHER, ADMIN)
async def tickets_page(request: web.Request) -> web.StreamResponse:
    """Every ticket, searched and filtered (number, state, verdict, agency, days), a page at a time."""
    query, errors, values, agencies = await ticket_search(request)
    found = None
    if query is not None:
        found = await ticket_search_mod.search_tickets(request.app[DISPATCH].panel.services.sessions, query)
    translated = translate_errors(request, errors)
    links = {}
    if found is not None:
        links = {
            "csv": "/dispatch/tickets.csv" + _search_link(values, page=""),
            "previous": _search_link(values, page=found.page - 1) or "?" if found.page > 1 else None,
            "next": _search_link(values, page=found.page + 1) if found.page < found.pages else None,
        }
    return await render(
        request,
        "dispatch/tickets.html",
        _page_values(
            request,
            found=found,
            rows=[ticket_search_mod.row_json(r, _when(request)) for r in found.rows] if found else [],
            errors=translated,
            values=values,
            agencies=agencies,
            links=links,
            summary=error_summary(translated),
            page_size=ticket_search_mod.PAGE_SIZE,
        ),
        status=422 if errors else 200,
    )


@routes.get("/dispatch/tickets.csv")
@require(DISPATCHER, ADMIN)
async def tickets_csv(request: web.Request) -> web.StreamResponse:
    """The tickets the search finds (every page), one CSV row each."""
    query, errors, _values, _agencies = await ticket_search(request)
    if query is None:
        return await tickets_page(request)
    rows = await ticket_search_mod.all_matching(request.app[DISPATCH].panel.services.sessions, query)
    text = ticket_search_mod.tickets_csv(rows, request[GETTEXT], _when(request))
    response = web.Response(text=text, content_type="text/csv", charset="utf-8")
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    response.headers["Content-Disposition"] = f'attachment; filename="ngcc112-tickets-{stamp}.csv"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _page_form_key(path: str) -> str:
    return f"page-{path}"


def _page_refusal(request: web.Request, path: str) -> dict[str, Any]:
    """A refusal kept for a page without a form of its own (the board, the callbacks page)."""
    kept = form_memory.recall(request, _page_form_key(path))
    if kept is None:
        return {"summary": []}
    return {
        "summary": error_summary(kept.errors),
        "values": kept.values,
        "errors": {k: v for k, v in kept.errors.items() if k != form_memory.FORM},
    }


# -- callback outcomes ------------------------------------------------------------------------


async def record_callback_outcome(request: web.Request, ticket_id: int, outcome: str) -> str | None:
    """Record the outcome; None when done, else the refusal in the user's language (raises 404/403 as
    :class:`OutcomeRefused` for the caller to answer)."""
    panel = request.app[PANEL]
    try:
        await record_outcome(panel.services.sessions, panel.services.hub.publish, ticket_id, request[USER], outcome)
    except OutcomeRefused as exc:
        if exc.status in (403, 404):
            raise
        return request[GETTEXT](exc.msgid) if exc.msgid else exc.reason
    return None


@routes.post("/dispatch/tickets/{ticket_id:\\d+}/callback/outcome")
@require(OPERATOR, DISPATCHER)
async def callback_outcome_submit(request: web.Request) -> web.StreamResponse:
    """Reached / no answer / dismissed, from the callbacks list; back to it (post/redirect/get)."""
    ticket_id = int(request.match_info["ticket_id"])
    form = await request.post()
    back = "/dispatch" if str(form.get("back", "")) == "board" and request[USER].role == DISPATCHER else "/callbacks"
    try:
        refused = await record_callback_outcome(request, ticket_id, str(form.get("outcome", "")))
    except OutcomeRefused as exc:
        if exc.status == 404:
            return await render_error(request, 404, request[GETTEXT]("Not found"))
        return await error_response(request, 403, "Your role may not do this", code="role")
    if refused is not None:  # told on the callbacks page, where the row is
        remember(request, _page_form_key("/callbacks"), {"ticket_id": str(ticket_id)}, {"outcome": refused})
        raise web.HTTPSeeOther("/callbacks")
    await _flash(request, "Outcome recorded")
    raise web.HTTPSeeOther(back)


# -- the agency's pages ---------------------------------------------------------------------


@routes.get("/agency", name="agency_list")
@require(AGENCY)
async def agency_page(request: web.Request) -> web.StreamResponse:
    values = _page_values(request, data=await agency_dispatches(request), flash=await _flash(request))
    return await render(request, "dispatch/agency.html", values)


async def agency_dispatch_page(request: web.Request, dispatch_id: int) -> web.Response:
    """One dispatch; a form refused a moment ago comes back (post/redirect/get) with its errors."""
    try:
        data = await agency_dispatch(request, dispatch_id)
    except dispatching.NotFoundOrForbidden:
        return await render_error(request, 404, request[GETTEXT]("Not found"))
    refused = recall(request, f"agency-dispatch-{dispatch_id}")
    values = dict(refused.values) if refused else {}
    errors = dict(refused.errors) if refused else {}
    error = errors.pop("", None)
    page = _page_values(request, data=data, errors=errors, values=values, form_error=error, flash=await _flash(request))
    return await render(request, "dispatch/agency_dispatch.html", page)


@routes.get("/agency/dispatches/{dispatch_id:\\d+}", name="agency_dispatch")
@require(AGENCY)
async def agency_dispatch_get(request: web.Request) -> web.StreamResponse:
    return await agency_dispatch_page(request, int(request.match_info["dispatch_id"]))


async def _agency_action(
    request: web.Request, run: Callable[[], Any], values: dict[str, Any], errors: dict[str, str], notice: str
) -> web.StreamResponse:
    """Run one agency action; refused or not, answer 303 to the dispatch's page (post/redirect/get)."""
    dispatch_id = int(request.match_info["dispatch_id"])
    page = f"/agency/dispatches/{dispatch_id}"
    errors = translate_errors(request, errors)
    if not errors:
        try:
            await run()
        except dispatching.NotFoundOrForbidden:
            return await render_error(request, 404, request[GETTEXT]("Not found"))
        except dispatching.DispatchError as exc:
            errors = {exc.field: exc.translated(request[GETTEXT])}
        except TransitionRefused as exc:
            errors = {"": refused_text(request, exc)}  # "": about the form, not one field
    if errors:
        remember(request, f"agency-dispatch-{dispatch_id}", values, errors)
        raise web.HTTPSeeOther(page)
    await _flash(request, notice)
    raise web.HTTPSeeOther(page)


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/acknowledge")
@require(AGENCY)
async def acknowledge_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    return await _agency_action(
        request,
        lambda: dispatching.acknowledge(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, request[USER]
        ),
        {},
        {},
        "Acknowledged",
    )


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/status")
@require(AGENCY)
async def status_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    form = await request.post()
    status, reason = str(form.get("status", "")), str(form.get("reason", ""))
    return await _agency_action(
        request,
        lambda: dispatching.update_status(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, status, reason or None, request[USER]
        ),
        {"status": status, "reason": reason},
        validate_status(status, reason),
        "Status updated",
    )


@routes.post("/agency/dispatches/{dispatch_id:\\d+}/report")
@require(AGENCY)
async def report_submit(request: web.Request) -> web.StreamResponse:
    panel = request.app[PANEL]
    dispatch_id = int(request.match_info["dispatch_id"])
    form = await request.post()
    text = str(form.get("report", ""))
    return await _agency_action(
        request,
        lambda: dispatching.file_report(
            panel.services.sessions, panel.services.hub.publish, dispatch_id, text, request[USER]
        ),
        {"report": text},
        validate_report(text),
        "Field report sent",
    )


# -- the live channel's endpoint -------------------------------------------------------------


@routes.get("/ws/dispatch")
async def websocket(request: web.Request) -> web.StreamResponse:
    user: User | None = request.get(USER)
    translate = request[GETTEXT]
    if user is None:
        return web.json_response({"error": translate("Please log in"), "code": "login"}, status=401)
    if user.role not in (OPERATOR, DISPATCHER, ADMIN, AGENCY) or not _same_origin(request):
        return web.json_response({"error": translate("Your role may not do this"), "code": "role"}, status=403)
    state = request.app[DISPATCH]
    agency_id = await dispatching.actor_agency(state.panel.services.sessions, user) if user.role == AGENCY else None
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT, max_msg_size=4096)
    await ws.prepare(request)
    client = state.live.add(ws, user, agency_id)
    client.offer({"type": "hello", "client": client.id})
    try:
        with request.app[SOCKETS].holding(ws, request[SESSION_HASH]):
            async for message in ws:
                if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
    finally:
        await state.live.remove(client)
    return ws


# -- reports ------------------------------------------------------------------------------


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@dataclass(frozen=True, slots=True)
class ReportQuery:
    start: date
    end: date
    tz: str


def parse_report_query(query: Any, default_tz: str) -> tuple[ReportQuery | None, dict[str, str], dict[str, str]]:
    """(the query, per-field errors, the values as typed). Defaults: the last 7 days in ``default_tz``."""
    tz = str(query.get("tz") or default_tz).strip()
    values = {"start": str(query.get("start") or ""), "end": str(query.get("end") or ""), "tz": tz}
    errors: dict[str, str] = {}
    try:
        local = zone(tz)
    except ReportError:
        errors["tz"] = N_("Unknown time zone; use a name such as Asia/Jakarta")
        local = timezone.utc
    today = datetime.now(local).date()
    parsed: dict[str, date] = {}
    for key, fallback in (("end", today), ("start", None)):
        text = values[key].strip()
        if not text:  # the start by default: the week up to the end (the end still to be fixed: today's)
            parsed[key] = (
                fallback if fallback is not None else max(FIRST_DAY, parsed.get("end", today) - timedelta(days=6))
            )
            values[key] = parsed[key].isoformat()
            continue
        try:  # YYYY-MM-DD only (fromisoformat also takes week dates and the basic format)
            parsed[key] = date.fromisoformat(text if _DAY.fullmatch(text) else "")
        except ValueError:
            errors[key] = N_("Enter a date like 2026-11-28")
            continue
        if not FIRST_DAY <= parsed[key] <= LAST_DAY:
            errors[key] = bodies.DATE_RANGE
    if not errors:
        if parsed["end"] < parsed["start"]:
            errors["end"] = N_("The end is before the start")
        elif (parsed["end"] - parsed["start"]).days >= MAX_REPORT_DAYS:
            errors["end"] = N_("At most 366 days")
    if errors:
        return None, errors, values
    return ReportQuery(parsed["start"], parsed["end"], tz), {}, values


def _bars(
    rows: list[tuple[str, str, float | None, str]], *, maximum: float | None = None, label_width: int = 150
) -> dict[str, Any]:
    """A horizontal bar chart's geometry: rows of (key, label, value, shown text)."""
    row_height, bar_area = 22, 360
    top = max([v for _k, _l, v, _t in rows if v is not None] + [0.0])
    scale = maximum if maximum is not None else top
    bars = []
    for index, (key, label, value, text) in enumerate(rows):
        width = 0.0 if not value or not scale else round(bar_area * value / scale, 1)
        bars.append(
            {
                "key": key,
                "label": label,
                "value": value,
                "text": text,
                "x": label_width,
                "y": index * row_height + 3,
                "width": width,
                "height": row_height - 6,
                "text_x": label_width + width + 6,
                "text_y": index * row_height + row_height - 7,
            }
        )
    return {
        "bars": bars,
        "width": label_width + bar_area + 90,
        "height": max(1, len(rows)) * row_height,
        "label_x": label_width - 6,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def report_charts(report: Report, translate: Callable[[str], str]) -> dict[str, Any]:
    """The report's charts (inline SVG geometry) and figures, straight from ``reports``."""
    hours = _bars(
        [(f"{h:02d}", f"{h:02d}:00", float(n), str(n)) for h, n in enumerate(report.calls_per_hour)], label_width=60
    )
    verdict_rows = []
    for verdict, count in report.verdicts:
        label = labels.VERDICT_LABELS.get(verdict, N_("Not classified"))
        share = report.verdict_share(verdict)
        verdict_rows.append((verdict, translate(label), float(count), f"{count} ({_pct(share)})"))
    operator_rows = []
    for group in report.per_operator:
        for stage in group.stages:
            value = stage.compliance
            operator_rows.append(
                (
                    f"{group.key}|{stage.stage}",
                    f"{group.key} · {translate(STAGE_LABELS[stage.stage])}",
                    None if value is None else value * 100,
                    f"{_pct(value)} ({stage.met}/{stage.measured})",
                )
            )
    day_rows, abandoned_rows = [], []
    thresholds = tuple(a.threshold for a in report.answer)
    target = 15.0 if 15.0 in thresholds else (thresholds[len(thresholds) // 2] if thresholds else None)
    for group in report.per_day:
        answer = next((a for a in group.answer if a.threshold == target), None)
        intake = next((s for s in group.stages if s.stage == Stage.INTAKE.value), None)
        for key, label, value, text in (
            (
                "answer",
                translate(N_("Answered in time")),
                answer.share if answer else None,
                f"{_pct(answer.share if answer else None)} ({answer.within}/{answer.counted})" if answer else "—",
            ),
            (
                "intake",
                translate(STAGE_LABELS["intake"]),
                intake.compliance if intake else None,
                f"{_pct(intake.compliance)} ({intake.met}/{intake.measured})" if intake else "—",
            ),
        ):
            day_rows.append(
                (f"{group.key}|{key}", f"{group.key} · {label}", None if value is None else value * 100, text)
            )
        abandoned_rows.append((group.key, group.key, float(group.abandoned), f"{group.abandoned}/{group.calls}"))
    return {
        "hours": hours,
        "verdicts": _bars(verdict_rows),
        "operators": _bars(operator_rows, maximum=100.0, label_width=260),
        "days": _bars(day_rows, maximum=100.0, label_width=260),
        "abandoned": _bars(abandoned_rows, label_width=110),
        "answer_target": target,
        "figures": {
            "calls": report.calls,
            "answered": report.answered,
            "abandoned": report.abandoned,
            "abandoned_before_queue": report.abandoned_before_queue,
            "abandoned_share": _pct(report.abandoned_share),
            "answer": [
                {"threshold": a.threshold, "within": a.within, "counted": a.counted, "share": _pct(a.share)}
                for a in report.answer
            ],
            "stages": [
                {
                    "stage": s.stage,
                    "target": s.target,
                    "measured": s.measured,
                    "met": s.met,
                    "compliance": _pct(s.compliance),
                    "mean": "—" if s.mean_seconds is None else f"{s.mean_seconds:.1f}",
                }
                for s in report.stages
            ],
        },
    }


def report_json(report: Report) -> dict[str, Any]:
    """The report as JSON: the counts and sums ``reports`` holds, with the derived shares."""

    def stage(s: Any) -> dict[str, Any]:
        return {
            "stage": s.stage,
            "target": s.target,
            "measured": s.measured,
            "met": s.met,
            "total_seconds": s.total_seconds,
            "max_seconds": s.max_seconds,
            "mean_seconds": s.mean_seconds,
            "compliance": s.compliance,
        }

    def answer(a: Any) -> dict[str, Any]:
        return {"threshold": a.threshold, "within": a.within, "counted": a.counted, "share": a.share}

    def group(g: Any) -> dict[str, Any]:
        return {
            "key": g.key,
            "calls": g.calls,
            "answered": g.answered,
            "abandoned": g.abandoned,
            "stages": [stage(s) for s in g.stages],
            "answer": [answer(a) for a in g.answer],
        }

    return {
        "start": report.start.isoformat(),
        "end": report.end.isoformat(),
        "timezone": report.timezone,
        "calls": report.calls,
        "answered": report.answered,
        "abandoned": report.abandoned,
        "abandoned_before_queue": report.abandoned_before_queue,
        "calls_per_hour": list(report.calls_per_hour),
        "verdicts": [{"verdict": v, "calls": n, "share": report.verdict_share(v)} for v, n in report.verdicts],
        "answer": [answer(a) for a in report.answer],
        "stages": [stage(s) for s in report.stages],
        "per_operator": [group(g) for g in report.per_operator],
        "per_day": [group(g) for g in report.per_day],
    }


async def make_report(request: web.Request, query: ReportQuery) -> Report:
    state = request.app[DISPATCH]
    return await build_report(state.panel.services.sessions, query.start, query.end, tz=query.tz, targets=state.targets)


def csv_response(report: Report) -> web.Response:
    name = f"ngcc112-report-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    response = web.Response(text=report_to_csv(report), content_type="text/csv", charset="utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/reports", name="reports")
@require(DISPATCHER, ADMIN)
async def reports_page(request: web.Request) -> web.StreamResponse:
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    report = charts = None
    if query is not None:
        report = await make_report(request, query)
        charts = report_charts(report, request[GETTEXT])
    csv_link = "/reports.csv?" + urlencode(values) if query else ""
    return await render(
        request,
        "dispatch/reports.html",
        _page_values(
            request,
            report=report,
            charts=charts,
            errors=translate_errors(request, errors),
            values=values,
            csv_link=csv_link,
            stage_labels=STAGE_LABELS,
        ),
        status=422 if errors else 200,
    )


@routes.get("/reports.csv")
@require(DISPATCHER, ADMIN)
async def reports_csv(request: web.Request) -> web.StreamResponse:
    query, errors, values = parse_report_query(request.query, request.app[DISPATCH].report_tz)
    if query is None:
        return await render(
            request,
            "dispatch/reports.html",
            _page_values(
                request,
                report=None,
                charts=None,
                errors=translate_errors(request, errors),
                values=values,
                csv_link="",
                stage_labels=STAGE_LABELS,
            ),
            status=422,
        )
    return csv_response(await make_report(request, query))


# -- admin -----------------------------------------------------------------------------------


def validate_new_user(values: dict[str, str], agency_codes: set[str]) -> dict[str, str]:
    errors = {}
    if not USERNAME_PATTERN.fullmatch(values["username"]):
        errors["username"] = N_("2-40 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter")
    if len(values["password"]) < MIN_PASSWORD:
        errors["password"] = N_("At least 8 characters")
    errors.update(validate_user_change(values, agency_codes))
    if len(values.get("display_name", "")) > 160 or any(c in values.get("display_name", "") for c in "\r\n\x00"):
        errors["display_name"] = N_("Too long")
    return errors


def validate_user_change(values: dict[str, str], agency_codes: set[str]) -> dict[str, str]:
    errors = {}
    if values.get("role") not in USER_ROLES:
        errors["role"] = N_("Choose a role from the list")
    interface = values.get("interface", "").strip()
    if interface and not INTERFACE_PATTERN.fullmatch(interface):
        errors["interface"] = N_("A softphone interface like PJSIP/op1, or empty")
    agency = values.get("agency", "")
    if agency and (agency not in agency_codes or values.get("role") != AGENCY):
        errors["agency"] = N_("Choose an agency from the list")
    try:
        check_account_links(values.get("role", ""), interface or None, agency or None)
    except UserError as exc:
        errors.setdefault(exc.field, exc.msgid or exc.message)
    return errors


def validate_agency(values: dict[str, str], *, new: bool) -> dict[str, str]:
    errors = {}
    if new and not agency_admin.AGENCY_CODE_PATTERN.fullmatch(values.get("code", "")):
        errors["code"] = N_("2-32 characters: lower-case letters, digits, '_' or '-', starting with a letter")
    name = values.get("name", "").strip()
    if not name:
        errors["name"] = N_("Enter a name")
    elif len(name) > agency_admin.MAX_AGENCY_NAME or any(c in name for c in "\r\n\x00"):
        errors["name"] = N_("Too long")
    if values.get("kind") not in agency_admin.AGENCY_KINDS:
        errors["kind"] = N_("Choose OPD or Instansi")
    return errors


def refuse_admin_form(
    request: web.Request, page: str, form: str, errors: dict[str, str], values: dict[str, Any] | None = None
) -> web.HTTPSeeOther:
    """A refused admin form: remembered (never a password) and answered 303 to its page."""
    remember(
        request,
        page,
        {"form": form, **{k: str(v) for k, v in (values or {}).items()}},
        translate_errors(request, errors),
    )
    return web.HTTPSeeOther(page)


def _recalled(request: web.Request, page: str) -> tuple[str | None, dict[str, str], dict[str, str]]:
    """(the refused form's name, its errors, its values) after the redirect; (None, {}, {}) else."""
    refused = recall(request, page)
    if refused is None:
        return None, {}, {}
    values = dict(refused.values)
    return values.pop("form", None), dict(refused.errors), values


async def users_page(request: web.Request) -> web.Response:
    sessions = request.app[PANEL].services.sessions
    accounts = await agency_admin.list_accounts(sessions, request[USER])
    agencies = await agency_admin.list_agencies(sessions)
    form, errors, values = _recalled(request, "/admin/users")
    return await render(
        request,
        "dispatch/admin_users.html",
        _page_values(
            request,
            accounts=accounts,
            agencies=agencies,
            roles=USER_ROLES,
            form=form,
            errors=errors,
            values=values,
            flash=await _flash(request),
        ),
    )


async def agencies_page(request: web.Request) -> web.Response:
    agencies = await agency_admin.list_agencies(request.app[PANEL].services.sessions)
    form, errors, values = _recalled(request, "/admin/agencies")
    return await render(
        request,
        "dispatch/admin_agencies.html",
        _page_values(
            request,
            agencies=agencies,
            kinds=agency_admin.AGENCY_KINDS,
            form=form,
            errors=errors,
            values=values,
            flash=await _flash(request),
        ),
    )


@routes.get("/admin/users", name="admin_users")
@require(ADMIN)
async def users_get(request: web.Request) -> web.StreamResponse:
    return await users_page(request)


async def create_account(request: web.Request, values: dict[str, str]) -> tuple[User | None, dict[str, str]]:
    """Add a user (and put an agency user in their agency); (user, {}) or (None, errors)."""
    sessions = request.app[PANEL].services.sessions
    codes = {a.code for a in await agency_admin.list_agencies(sessions)}
    errors = validate_new_user(values, codes)
    if errors:
        return None, errors
    try:
        user = await add_user(
            sessions,
            username=values["username"],
            role=values["role"],
            password=values["password"],
            display_name=values.get("display_name", "").strip(),
            interface=values.get("interface", "").strip() or None,
            agency=values.get("agency") or None,
        )
    except UserError as exc:
        return None, {exc.field: exc.translated(request[GETTEXT])}
    return user, {}


async def change_account(request: web.Request, user_id: int, values: dict[str, Any]) -> dict[str, str]:
    """Apply the admin's changes to one account: role, interface, agency, active. Errors or {}.

    Role, interface and agency are checked together, as the account will be after the
    change (an agency user needs an agency, an operator an interface) — only when one of
    them changes, so disabling an account that predates the rule still works."""
    sessions = request.app[PANEL].services.sessions
    actor = request[USER]
    codes = {a.code for a in await agency_admin.list_agencies(sessions)}
    current = next((a for a in await agency_admin.list_accounts(sessions, actor) if a.id == user_id), None)
    if current is None:
        return {"user": "Not found"}
    role = values.get("role", current.role)
    interface = values["interface"] if "interface" in values else (current.interface or "")
    agency = values["agency"] if "agency" in values else (current.agency_code or "")
    if role != AGENCY:
        agency = values.get("agency", "")
    wanted = {"role": role, "interface": interface, "agency": agency}
    if (role, interface or None, agency or None) != (current.role, current.interface, current.agency_code):
        errors = validate_user_change(wanted, codes)
        if errors:
            return errors
    try:
        if interface != (current.interface or "") and role == Role.OPERATOR.value:
            await agency_admin.set_interface(sessions, actor, user_id, interface or None)
        if role != current.role:
            await agency_admin.change_role(
                sessions, actor, user_id, role, agency_code=agency or None if role == AGENCY else None
            )
        if interface != (current.interface or "") and role != Role.OPERATOR.value:
            await agency_admin.set_interface(sessions, actor, user_id, interface or None)
        if role == AGENCY and agency != (current.agency_code or "") and role == current.role:
            await agency_admin.set_user_agency(sessions, actor, user_id, agency or None)
        if "active" in values:
            await agency_admin.set_active(sessions, actor, user_id, bool(values["active"]))
    except UserError as exc:
        return {exc.field: exc.translated(request[GETTEXT])}
    finally:
        if "role" in values or "active" in values:
            await sessions_changed(request)  # a disable or a new role ends the account's live channels
    return {}


@routes.post("/admin/users")
@require(ADMIN)
async def users_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {
        key: str(form.get(key, "")) for key in ("username", "display_name", "role", "password", "interface", "agency")
    }
    try:
        _user, errors = await create_account(request, values)
    except agency_admin.NotPermitted:
        return await error_response(request, 403, "Your role may not do this", code="role")
    if errors:
        raise refuse_admin_form(request, "/admin/users", "new", errors, {**values, "password": ""})
    await _flash(request, "User added")
    raise web.HTTPSeeOther("/admin/users")


@routes.post("/admin/users/{user_id:\\d+}")
@require(ADMIN)
async def users_change(request: web.Request) -> web.StreamResponse:
    user_id = int(request.match_info["user_id"])
    form = await request.post()
    values: dict[str, Any] = {key: str(form.get(key, "")).strip() for key in ("role", "interface", "agency")}
    values["active"] = form.get("active") == "on"
    try:
        errors = await change_account(request, user_id, values)
    except agency_admin.NotPermitted:
        return await error_response(request, 403, "Your role may not do this", code="role")
    if errors:
        raise refuse_admin_form(request, "/admin/users", f"user-{user_id}", errors, values)
    await _flash(request, "User updated")
    raise web.HTTPSeeOther("/admin/users")


async def reset_account_password(request: web.Request, user_id: int, password: str) -> dict[str, str]:
    """The admin gives another user a temporary password; their sessions end. Errors or {}."""
    if len(password) < MIN_PASSWORD:
        return {"password": N_("At least 8 characters")}
    try:
        await agency_admin.reset_password(request.app[PANEL].services.sessions, request[USER], user_id, password)
    except UserError as exc:
        return {exc.field: exc.translated(request[GETTEXT])}
    await sessions_changed(request)  # their live channels close with their sessions
    return {}


@routes.post("/admin/users/{user_id:\\d+}/password")
@require(ADMIN)
async def users_reset_password(request: web.Request) -> web.StreamResponse:
    user_id = int(request.match_info["user_id"])
    form = await request.post()
    try:
        errors = await reset_account_password(request, user_id, str(form.get("password", "")))
    except agency_admin.NotPermitted:
        return await error_response(request, 403, "Your role may not do this", code="role")
    if errors:
        if "user" in errors:
            return await error_response(request, 404, "Not found", code="not_found")
        raise refuse_admin_form(request, "/admin/users", f"password-{user_id}", errors)
    await _flash(request, "Password reset; the user's sessions have ended")
    raise web.HTTPSeeOther("/admin/users")


@routes.get("/admin/agencies", name="admin_agencies")
@require(ADMIN)
async def agencies_get(request: web.Request) -> web.StreamResponse:
    return await agencies_page(request)


@routes.post("/admin/agencies")
@require(ADMIN)
async def agencies_add(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {key: str(form.get(key, "")).strip() for key in ("code", "name", "kind")}
    errors = validate_agency(values, new=True)
    if not errors:
        try:
            await agency_admin.create_agency(request.app[PANEL].services.sessions, request[USER], **values)
        except agency_admin.AgencyError as exc:
            errors = {exc.field: exc.translated(request[GETTEXT])}
        except agency_admin.NotPermitted:
            return await error_response(request, 403, "Your role may not do this", code="role")
    if errors:
        raise refuse_admin_form(request, "/admin/agencies", "new", errors, values)
    await _flash(request, "Agency added")
    raise web.HTTPSeeOther("/admin/agencies")


@routes.post("/admin/agencies/{code}")
@require(ADMIN)
async def agencies_change(request: web.Request) -> web.StreamResponse:
    code = request.match_info["code"]
    form = await request.post()
    values = {key: str(form.get(key, "")).strip() for key in ("name", "kind")}
    active = form.get("active") == "on"
    errors = validate_agency(values, new=False)
    if not errors:
        try:
            await agency_admin.update_agency(
                request.app[PANEL].services.sessions,
                request[USER],
                code,
                name=values["name"],
                kind=values["kind"],
                active=active,
            )
        except agency_admin.AgencyError as exc:
            if exc.field == "code":
                return await render_error(request, 404, request[GETTEXT]("Not found"))
            errors = {exc.field: exc.translated(request[GETTEXT])}
        except agency_admin.NotPermitted:
            return await error_response(request, 403, "Your role may not do this", code="role")
    if errors:
        raise refuse_admin_form(
            request, "/admin/agencies", f"agency-{code}", errors, {**values, "active": "on" if active else ""}
        )
    await _flash(request, "Agency updated")
    raise web.HTTPSeeOther("/admin/agencies")


__all__ = [
    "DISPATCH",
    "DispatchLive",
    "DispatchState",
    "WaitingBoard",
    "load_dispatch_catalogs",
    "merge_catalogs",
    "routes",
    "setup",
]
