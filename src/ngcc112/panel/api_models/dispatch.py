"""Dispatching, callbacks and the agencies' side: the models of the dispatch and agency API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import Field

from ngcc112.panel.api_models.fields import Answer, Body, Storable
from ngcc112.panel.api_models.session import Presence
from ngcc112.panel.api_models.tickets import Ticket
from ngcc112.tickets.callback_outcomes import OUTCOMES
from ngcc112.tickets.dispatch import MAX_INSTRUCTIONS, MAX_REASON, MAX_REPORT, STATUS_UPDATES, DispatchStatus
from ngcc112.tickets.intake_form import N_

if TYPE_CHECKING:  # the names below, as text (a Literal built from the tuples is for pydantic)
    StatusUpdateName: TypeAlias = str
    StatusName: TypeAlias = str
    OutcomeName: TypeAlias = str
else:
    StatusUpdateName = Literal[tuple(s.value for s in STATUS_UPDATES)]
    StatusName = Literal[tuple(s.value for s in DispatchStatus)]
    OutcomeName = Literal[OUTCOMES]


# -- requests ------------------------------------------------------------------------------


class DispatchOrder(Body):
    messages = {"agencies": N_("Choose at least one agency"), "instructions": N_("Too long")}

    agencies: list[Storable] = Field(min_length=1, description="Agency codes")
    instructions: Storable = Field(default="", max_length=MAX_INSTRUCTIONS)


class CloseTicket(Body):
    messages = {"override_reason": N_("Too long")}

    override_reason: Storable = Field(default="", max_length=MAX_REASON)


class CallbackRequest(Body):
    messages = {"request_id": N_("Not accepted")}

    request_id: Storable = Field(
        default="", max_length=100, description="The click's own id: a request_id already used is refused"
    )


class CallbackOutcome(Body):
    messages = {"outcome": N_("Choose an outcome from the list")}

    outcome: OutcomeName


class StatusUpdate(Body):
    messages = {"status": N_("Choose a status from the list"), "reason": N_("Too long")}

    status: StatusUpdateName
    reason: Storable = Field(default="", max_length=MAX_REASON, description="Required for cannot_handle")


class FieldReport(Body):
    messages = {"report": N_("Write the field report"), "report.string_too_long": N_("Too long")}

    report: Storable = Field(min_length=1, max_length=MAX_REPORT)


# -- answers -------------------------------------------------------------------------------


class Dispatch(Answer):
    id: int
    ticket_id: int
    ticket_state: str
    agency: str
    agency_name: str
    status: StatusName
    instructions: str
    sent_at: str
    sent_by: str
    acknowledged_at: str | None
    acknowledged_by: str | None
    en_route_at: str | None
    on_scene_at: str | None
    finished_at: str | None
    reason: str | None
    report: str | None
    reported_at: str | None
    reported_by: str | None
    sent_seconds: float = Field(description="Board and dispatcher's ticket: seconds since sent")
    ack_overdue: bool = Field(description="Still not acknowledged past [sla] acknowledge")
    arrival_overdue: bool = Field(description="Not on scene past [sla] arrival")
    acknowledge_target: float | None
    arrival_target: float | None


class DispatchAnswer(Answer):
    dispatch: Dispatch = Field(description="The dispatch now")


class TicketFound(Answer):
    id: int
    arrived_at: str
    arrived_local: str
    caller_number: str | None
    state: str
    verdict: str | None
    category: str | None
    agencies: list[str]
    closed_at: str | None
    closed_reason: str | None
    site: str = Field(description="The site whose Asterisk took the call")


class TicketPage(Answer):
    tickets: list[TicketFound]
    total: int
    page: int
    pages: int
    page_size: int


class AuditDetail(Answer):
    key: str
    label: str
    text: str


class AuditEntry(Answer):
    at: str
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    changes: dict[str, Any]
    at_local: str = Field(description="In the center's time zone, e.g. 2026-12-01 19:05:03 WIB")
    action_label: str = Field(description="The action in the reader's language")
    actor_role: str | None = Field(description="null: an automatic actor")
    actor_label: str
    details: list[AuditDetail] = Field(description="changes as translated key: value text")


class DispatchTicket(Answer):
    ticket: Ticket
    dispatches: list[Dispatch]
    audit: list[AuditEntry]
    agencies: list[dict[str, Any]] = Field(description="Agencies still offered")
    can_dispatch: bool
    can_close: bool
    needs_override: bool
    can_callback: bool
    callback_number: str | None
    callback_pending: bool


class Attention(Answer):
    """One thing the dispatcher must act on."""

    kind: Literal["awaiting_dispatch", "cannot_handle", "overdue_acknowledgement", "overdue_arrival"]
    key: str
    ticket_id: int
    category: str | None
    address: str
    agency: str | None
    agency_name: str | None
    reason: str | None
    since: str | None
    seconds: float | None
    target_seconds: float | None
    overdue: bool


class WaitingCall(Answer):
    call_id: str
    caller_number: str | None
    priority: int | None
    wait_seconds: float
    overdue: bool


class Incident(Answer):
    dispatches: list[Dispatch]
    overdue: bool


class Board(Answer):
    server_time: str
    ami_connected: bool
    site: str | None = Field(description="The site the tickets are filtered to (`?site=`); null: every site")
    sites: list[str] = Field(description="Every site a ticket was taken at")
    targets: dict[str, Any] = Field(
        description="Seconds: answer, intake, dispatch, field_handling, closing, acknowledge, arrival "
        "(null: not judged)"
    )
    attention: list[Attention] = Field(
        description="Awaiting dispatch, then cannot handle, then overdue acknowledgement, then overdue "
        "arrival; oldest first within each"
    )
    waiting: list[WaitingCall]
    operators: list[Presence]
    escalated: list[dict[str, Any]]
    incidents: list[Incident]
    callbacks: list[dict[str, Any]]


class Callbacks(Answer):
    callbacks: list[dict[str, Any]]
    ami_connected: bool
    server_time: str


class Callback(Answer):
    ticket_id: int
    action_id: str
    number: str
    interface: str
    actor: str
    at: str
    outcome: Literal["queued", "refused", "unknown"]
    message: str


class CallbackPlaced(Answer):
    callback: Callback


class OutcomeRecorded(Answer):
    ticket_id: int
    outcome: str
    at: str


class AgencyDispatches(Answer):
    agency: dict[str, Any] | None
    open: list[Dispatch]
    done: list[Dispatch]
    server_time: str


class TimelineEntry(Answer):
    stage: str
    label: str
    at: str = Field(json_schema_extra={"format": "date-time"})
    local: str = Field(description="In the center's time zone")
    by: str | None


class OtherAgency(Answer):
    agency: str
    agency_name: str
    status: str
    status_label: str


class Closing(Answer):
    at: str
    local: str
    reason: str | None


class AgencyDispatch(Answer):
    dispatch: Dispatch
    ticket: dict[str, Any]
    timeline: list[TimelineEntry]
    other_agencies: list[OtherAgency]
    closing: Closing | None
    timezone: str
    can_acknowledge: bool
    next_statuses: list[str]
    can_report: bool = Field(description="False after 'cannot handle': its reason is the report")


class Report(Answer):
    """The report: counts and sums per hour, verdict, stage, operator and day, with the derived shares."""
