"""The dispatcher's and the agencies' use cases: dispatch, acknowledge, progress, field report, close.

Every write here follows one pattern, in ONE transaction:

1. lock the ticket (an ``UPDATE`` of its row first: on PostgreSQL that is the
   row lock, on SQLite it takes the write lock before anything is read, so two
   agencies reporting at the same moment are serialised, not interleaved);
2. re-read the actor from the database (a deactivated account or a role taken
   away counts at once) and check the role — ticket state changes through
   :func:`~ngcc112.tickets.states.check_transition`, the one table;
3. write the dispatch rows, the ticket's new state and one ``audit_log`` row;

then, after the commit, publish a :class:`~ngcc112.tickets.store.TicketChanged`.
Anything refused changes nothing.

A dispatch moves forward only, along :data:`DISPATCH_STEPS`:
``sent → acknowledged → en_route → on_scene → handled | cannot_handle``
(steps may be skipped; any move out of ``sent`` also stamps the
acknowledgement). "Cannot handle" needs a reason, and that reason is the
agency's report back: it stamps the dispatch reported, and no field report
follows it (:class:`NoReportAfterCannotHandle`). The ticket follows its
dispatches: ``dispatched → on_scene`` when the first agency is on scene,
``→ reported`` when every dispatch is finished (handled or cannot handle) and
has reported back (its field report, or the reason it cannot handle). The dispatcher
closes a reported ticket; closing earlier needs an override reason, audited.

Refusals: :class:`NotFoundOrForbidden` (404), :class:`RoleRefused` (403: the
role, the agency or a deactivated account), any other
:class:`~ngcc112.tickets.states.TransitionRefused` (409: the ticket's or the
dispatch's state), :class:`DispatchError` (400: a value, with its field).

Who may do what:

- dispatch, close: the roles the table gives ``dispatch`` / ``close`` (dispatcher);
- acknowledge: only a user of the dispatched agency;
- status updates and field reports: a user of the dispatched agency, or a
  dispatcher recording what the agency reported by radio or phone (audited as
  the dispatcher, ``on_behalf_of`` the agency);
- reading: an agency user sees only their own agency's dispatches and the
  tickets dispatched to it; anything else is :class:`NotFoundOrForbidden`,
  the same answer as for something that does not exist. Operators,
  dispatchers and admins (the 112 center's staff) see every dispatch.
"""

from __future__ import annotations

from ngcc112.tickets.dispatch.rules import (
    CLOSABLE_STATES,
    Clock,
    D,
    DISPATCH_STEPS,
    DispatchError,
    DispatchStatus,
    DispatchView,
    FINISHED,
    MAX_INSTRUCTIONS,
    MAX_REASON,
    MAX_REPORT,
    NoReportAfterCannotHandle,
    NotFoundOrForbidden,
    Publish,
    RoleRefused,
    STATUS_UPDATES,
    TicketDispatches,
    WORKING_STATES,
    id_of,
    roles_for,
    view_of,
)
from ngcc112.tickets.dispatch.use_cases import (
    acknowledge,
    close,
    dispatch,
    file_report,
    update_status,
)
from ngcc112.tickets.dispatch.reads import (
    FellowAgency,
    actor_agency,
    closing_of,
    dispatch_summary,
    fellow_agencies,
    get_dispatch_for,
    get_ticket_for,
    ticket_agencies,
    visible_dispatches,
)

__all__ = [
    "CLOSABLE_STATES",
    "Clock",
    "D",
    "DISPATCH_STEPS",
    "DispatchError",
    "DispatchStatus",
    "DispatchView",
    "FINISHED",
    "FellowAgency",
    "MAX_INSTRUCTIONS",
    "MAX_REASON",
    "MAX_REPORT",
    "NoReportAfterCannotHandle",
    "NotFoundOrForbidden",
    "Publish",
    "RoleRefused",
    "STATUS_UPDATES",
    "TicketDispatches",
    "WORKING_STATES",
    "acknowledge",
    "actor_agency",
    "close",
    "closing_of",
    "dispatch",
    "dispatch_summary",
    "fellow_agencies",
    "file_report",
    "get_dispatch_for",
    "get_ticket_for",
    "id_of",
    "roles_for",
    "ticket_agencies",
    "update_status",
    "view_of",
    "visible_dispatches",
]
