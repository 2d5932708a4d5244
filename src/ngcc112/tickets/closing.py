"""The Close Ticket rule the dispatcher's page and API share: when closing needs an override reason."""

from __future__ import annotations

from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.states import State


def needs_override(ticket_state: str) -> bool:
    """Close Ticket needs an override reason: the agencies are still at it (a closed ticket is refused)."""
    return ticket_state in {s.value for s in dispatching.CLOSABLE_STATES} and ticket_state != State.REPORTED.value
