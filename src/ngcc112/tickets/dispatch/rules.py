"""The rules of a dispatch, with no I/O: its steps, the refusals, what a reader sees of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


from ngcc112.tickets.dispatch_models import Agency, Dispatch
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.states import TRANSITIONS, Role, State, TransitionRefused
from ngcc112.tickets.store import TicketChanged

Publish = Callable[[TicketChanged], None]
Clock = Callable[[], datetime]


MAX_INSTRUCTIONS = 4000
MAX_REASON = 2000
MAX_REPORT = 10000


class DispatchStatus(StrEnum):
    SENT = "sent"  # forwarded; the agency has not reacted yet
    ACKNOWLEDGED = "acknowledged"  # the agency received it
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    HANDLED = "handled"  # final
    CANNOT_HANDLE = "cannot_handle"  # final; a reason is required


D = DispatchStatus
#: Where a dispatch may go from each status: forward only, steps may be skipped.
DISPATCH_STEPS: dict[DispatchStatus, frozenset[DispatchStatus]] = {
    D.SENT: frozenset({D.ACKNOWLEDGED, D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.ACKNOWLEDGED: frozenset({D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.EN_ROUTE: frozenset({D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE}),
    D.ON_SCENE: frozenset({D.HANDLED, D.CANNOT_HANDLE}),
    D.HANDLED: frozenset(),
    D.CANNOT_HANDLE: frozenset(),
}
FINISHED: frozenset[DispatchStatus] = frozenset({D.HANDLED, D.CANNOT_HANDLE})
#: What :func:`update_status` accepts (acknowledging has its own use case).
STATUS_UPDATES: tuple[DispatchStatus, ...] = (D.EN_ROUTE, D.ON_SCENE, D.HANDLED, D.CANNOT_HANDLE)
#: Ticket states in which agencies are working on it: more agencies may be added.
WORKING_STATES: frozenset[State] = frozenset({State.DISPATCHED, State.ON_SCENE})
#: Ticket states the dispatcher's Close Ticket applies to (classified calls close at intake).
CLOSABLE_STATES: frozenset[State] = frozenset({State.ESCALATED, State.DISPATCHED, State.ON_SCENE, State.REPORTED})


def roles_for(name: str) -> frozenset[Role]:
    """Every role the transition table allows for transitions named ``name``."""
    return frozenset(role for t in TRANSITIONS if t.name == name for role in t.roles)


class NotFoundOrForbidden(LookupError):
    """No such dispatch or ticket — or not one this actor may see (the panel answers 404)."""


class RoleRefused(TransitionRefused):
    """Refused for who the actor is (role, agency, deactivated account), not for the ticket's state.

    A :class:`TransitionRefused`, so one handler catches both; the panel may
    answer this one 403 and the others 409.
    """


class NoReportAfterCannotHandle(TransitionRefused):
    """A field report on a dispatch the agency said it cannot handle: its reason is its report.

    ``msgid`` / ``params`` give the panel the message to translate (409)."""

    msgid = "The agency said it cannot handle this dispatch: its reason is the report, no field report follows"

    def __init__(self, dispatch_id: int) -> None:
        super().__init__(
            f"dispatch #{dispatch_id} is cannot_handle: the agency's reason is its report; "
            "no field report after 'cannot handle'"
        )
        self.params: dict[str, object] = {"dispatch": dispatch_id}


class DispatchError(ValueError):
    """A value the use case cannot accept; ``field`` names the culprit (the panel answers 400)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message

    def translated(self, translate: Callable[[str], str]) -> str:
        """As :meth:`UserError.translated <ngcc112.tickets.users.UserError.translated>`: the panel's
        own checks catch these values first in the user's language; what reaches here is told as is."""
        return self.message


@dataclass(frozen=True, slots=True)
class DispatchView:
    """One dispatch as the boards show it."""

    id: int
    ticket_id: int
    ticket_state: str
    agency_code: str
    agency_name: str
    status: str
    instructions: str
    sent_at: datetime
    sent_by: str
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    finished_at: datetime | None
    reason: str | None
    report: str | None
    reported_at: datetime | None
    reported_by: str | None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def reported(self) -> bool:
        return self.reported_at is not None


@dataclass(frozen=True, slots=True)
class TicketDispatches:
    """A ticket and the dispatches on it that the actor may see."""

    ticket: Ticket
    dispatches: tuple[DispatchView, ...]


def view_of(dispatch: Dispatch, agency: Agency, ticket_state: str) -> DispatchView:
    return DispatchView(
        id=dispatch.id,
        ticket_id=dispatch.ticket_id,
        ticket_state=ticket_state,
        agency_code=agency.code,
        agency_name=agency.name,
        status=dispatch.status,
        instructions=dispatch.instructions,
        sent_at=dispatch.sent_at,
        sent_by=dispatch.sent_by,
        acknowledged_at=dispatch.acknowledged_at,
        acknowledged_by=dispatch.acknowledged_by,
        en_route_at=dispatch.en_route_at,
        on_scene_at=dispatch.on_scene_at,
        finished_at=dispatch.finished_at,
        reason=dispatch.reason,
        report=dispatch.report,
        reported_at=dispatch.reported_at,
        reported_by=dispatch.reported_by,
    )


def id_of(value: int | Ticket | Dispatch) -> int:
    return value.id if isinstance(value, (Ticket, Dispatch)) else int(value)
