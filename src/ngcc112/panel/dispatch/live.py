"""The dispatch pages' live channel: feeds the waiting board from the hub and tells each browser
*what* changed (``{type: board, what, ticket_ids}``, gathered for 0.1 s so a surge is one message);
an agency user's socket hears only of tickets dispatched to their agency."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.ami.events import (
    CallConnected,
    MembersResynced,
    MemberState,
    OperatorRinging,
    OperatorRingNoAnswer,
)
from ngcc112.hub import Hub, Subscription
from ngcc112.panel.dispatch.waiting import WaitingBoard
from ngcc112.panel.live import Client, Clients
from ngcc112.panel.roles import AGENCY
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets.models import User
from ngcc112.tickets.states import State
from ngcc112.tickets.store import TicketChanged

log = structlog.get_logger(__name__)
#: Ticket states before any dispatch: no agency hears of them.
UNDISPATCHED = frozenset({State.NEW.value, State.IN_CALL.value, State.CLASSIFIED.value, State.ESCALATED.value})
#: Changes are gathered this long and then told in one message per browser.
FLUSH_SECONDS = 0.1


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
            self._to_staff(message)
        dirty, self._agency_dirty = self._agency_dirty, {}
        for client_id, ticket_ids in dirty.items():
            client = self.clients.get(client_id)
            if client is not None:
                self._send(client, {"type": "dispatch", "ticket_ids": sorted(ticket_ids)})
