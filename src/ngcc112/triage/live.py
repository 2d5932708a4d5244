"""What triage keeps per live call (:class:`LiveCall`), and what it needs of the call tracker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Protocol

from ngcc112.routing.facts import CallerHistory, CallFacts
from ngcc112.routing.scoring import Assessment


@dataclass(eq=False)
class LiveCall:
    """One call triage follows: its facts, its history, its jobs, and what was stored and sent for it."""

    call_id: str
    facts: CallFacts
    queue: str | None = None
    history: CallerHistory | None = None
    ticket_id: int | None = None
    #: The queue priority the caller has now (the dialplan's until we change it).
    priority: int = 0
    raised: bool = False
    stored: tuple[Any, ...] | None = None
    history_number: str = ""
    history_failed_at: float | None = None
    geo: dict[str, str] = field(default_factory=dict)
    #: The dialplan has left its geolocation subroutine (a later variable, the queue, the end).
    geo_complete: bool = False
    geo_recorded: dict[str, str] = field(default_factory=dict)
    aml_checked: bool = False
    dirty: bool = False
    worker: asyncio.Task[None] | None = None
    timer: asyncio.Task[None] | None = None
    last: Assessment | None = None
    #: Found by a resync, not seen from its start: its live signals are unknown.
    adopted: bool = False
    saver: asyncio.Task[None] | None = None
    save_dirty: bool = False
    #: Set when the ticket store announced the call's ticket (its id is then ``ticket_id``).
    ticket_known: asyncio.Event = field(default_factory=asyncio.Event)

    def ticket_written(self, ticket_id: int) -> None:
        """The ticket store committed this call's ticket: its id, no query needed."""
        self.ticket_id = ticket_id
        self.ticket_known.set()


class CallChannels(Protocol):
    """What triage needs of the call tracker: the caller's channel of a live call."""

    def call_channel(self, call_id: str) -> str | None: ...


class AnnouncedTickets:
    """Ticket ids the ticket store announced (``TicketChanged``), handed to the calls they belong to.

    The daemon publishes a call's events before the store writes its ticket, so the
    announcement normally finds its :class:`LiveCall`; one that comes first (a harness
    writing the ticket itself) is kept, the last :data:`KEPT` of them, for when it does.
    """

    KEPT = 4096

    def __init__(self) -> None:
        self._early: dict[str, int] = {}

    def announced(self, live: LiveCall | None, call_id: str, ticket_id: int) -> None:
        if live is not None:
            if live.ticket_id is None:
                live.ticket_written(ticket_id)
            return
        self._early[call_id] = ticket_id
        while len(self._early) > self.KEPT:
            del self._early[next(iter(self._early))]

    def adopt(self, live: LiveCall) -> None:
        """A call triage starts following: its ticket, when it was announced already."""
        ticket_id = self._early.pop(live.call_id, None)
        if ticket_id is not None:
            live.ticket_written(ticket_id)
