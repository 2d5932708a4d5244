"""The dispatch pages' part of the one live hub (:class:`~ngcc112.panel.live.LiveHub`): feeds the
waiting board from the hub's items and tells each dispatch socket *what* changed
(``{type: board, what, ticket_ids}``, gathered for 0.1 s so a surge is one message); an agency
user's socket hears only of tickets dispatched to their agency (``{type: dispatch, ticket_ids}``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.ami.events import (
    CallConnected,
    MembersResynced,
    MemberState,
    OperatorRinging,
    OperatorRingNoAnswer,
)
from ngcc112.panel.dispatch.waiting import WaitingBoard
from ngcc112.panel.live import DISPATCH, LiveHub
from ngcc112.panel.roles import AGENCY
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.states import State
from ngcc112.tickets.store import TicketChanged

#: Ticket states before any dispatch: no agency hears of them.
UNDISPATCHED = frozenset({State.NEW.value, State.IN_CALL.value, State.CLASSIFIED.value, State.ESCALATED.value})
#: Changes are gathered this long and then told in one message per browser.
FLUSH_SECONDS = 0.1


class DispatchFeed:
    """The waiting board and the dispatch sockets' messages, fed by the live hub's one consumer."""

    def __init__(
        self,
        live: LiveHub,
        sessions: async_sessionmaker[AsyncSession],
        waiting: WaitingBoard,
        observe: Callable[[object], None] | None = None,
    ) -> None:
        self._live = live
        self._sessions = sessions
        self.waiting = waiting
        self._observe = observe
        self._flush_handle: asyncio.TimerHandle | None = None
        self._staff_what: set[str] = set()
        self._staff_tickets: set[int] = set()
        self._agency_dirty: dict[int, set[int]] = {}

    def close(self) -> None:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None

    async def handle(self, item: object) -> None:
        if self._observe is not None:
            self._observe(item)
        if self.waiting.apply(item):
            self._mark("queue")
        if isinstance(item, (MemberState, MembersResynced, OperatorRinging, OperatorRingNoAnswer, CallConnected)):
            self._mark("operators")
        if isinstance(item, TicketChanged):
            self._mark("tickets", item.ticket_id)
            agency_clients = [c for c in self._live.on_channel(DISPATCH) if c.role == AGENCY]
            # A ticket not dispatched yet has no agency to tell (and most call events are such).
            if agency_clients and item.state not in UNDISPATCHED:
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
            for client in self._live.on_channel(DISPATCH):
                if client.role != AGENCY:
                    self._live.send(client, message)
        dirty, self._agency_dirty = self._agency_dirty, {}
        for client_id, ticket_ids in dirty.items():
            agency_client = self._live.clients.get(client_id)
            if agency_client is not None:
                self._live.send(agency_client, {"type": "dispatch", "ticket_ids": sorted(ticket_ids)})


__all__ = ["FLUSH_SECONDS", "UNDISPATCHED", "DispatchFeed"]
