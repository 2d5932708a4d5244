"""Live updates: one hub consumer feeding the boards, and the browsers' websockets.

Each browser has a bounded queue and its own writer task; publishing never waits on a
browser. A newer presence replaces the one still waiting (:func:`coalesce`); a client whose
queue fills up anyway (a stalled tab) is closed with 1013 "resync" and reconnects by itself,
fetching the current state then. Messages only say *what* changed; the page fetches the state.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from aiohttp import WSCloseCode, web

from ngcc112.ami.events import (
    CallAbandoned,
    CallArrived,
    CallConnected,
    CallEnded,
    CallerIdentified,
    CallsResynced,
    MembersResynced,
    MemberState,
    OperatorRinging,
    OperatorRingNoAnswer,
)
from ngcc112.cluster.fanout import ClusterResync
from ngcc112.hub import Hub, Subscription
from ngcc112.panel.operator.calls import CallBoard
from ngcc112.routing.presence import MemberPresence, PresenceBoard
from ngcc112.tickets.states import Role
from ngcc112.tickets.store import TicketChanged
from ngcc112.wrapup import WrapUpChanged

log = structlog.get_logger(__name__)

#: What changes an operator's desk (the call ringing, the one answered).
_DESK_EVENTS = (
    OperatorRinging,
    OperatorRingNoAnswer,
    CallConnected,
    CallEnded,
    CallAbandoned,
    CallsResynced,
    TicketChanged,
)

#: Messages a browser may have waiting (after :func:`coalesce`) before it counts as stalled.
CLIENT_QUEUE = 64
#: Seconds one websocket write may take before the client counts as stalled.
SEND_TIMEOUT = 5.0
WS_TRY_AGAIN = 1013
#: Hub items handled in a row before the loop runs the rest (the browsers' writers): a loop turn
#: per item queued a burst of 100 rings behind everything else ready (pop p99 0.44 s). A socket is
#: told at most one message per item (a resync aside): a healthy browser never fills up in a batch.
CONSUME_BATCH = 32
#: The channels a socket may listen to: the operator's desk and the room's board, or the dispatch pages.
DESK = "desk"
DISPATCH = "dispatch"


class Feed(Protocol):
    """More of what the hub tells, for one channel's sockets (:meth:`LiveHub.add_feed`)."""

    async def handle(self, item: object) -> None: ...

    def close(self) -> None: ...


def coalesce(waiting: deque[dict[str, Any]], message: dict[str, Any]) -> bool:
    """Fold ``message`` into what a socket has waiting; True when it need not be queued. Only a
    superseded state goes: a presence (a member's whole state) replaces the one of the same
    interface still waiting, in its place; every other message is news and is delivered as sent."""
    if message.get("type") != "presence":
        return False
    for n, queued in enumerate(waiting):
        if queued.get("type") == "presence" and queued.get("interface") == message.get("interface"):
            waiting[n] = message
            return True
    return False


@dataclass(eq=False)
class Client:
    """One open websocket: a bounded queue drained by its own writer task."""

    id: int
    ws: web.WebSocketResponse
    user_id: int
    role: str
    interface: str | None
    #: Renders a presence for this client's language.
    describe: Callable[[MemberPresence], dict[str, Any]]
    #: An agency user's agency (the dispatch channel tells them only of their own tickets).
    agency_id: int | None = None
    #: What this socket is told: the desk and room (:data:`DESK`) or the dispatch pages (:data:`DISPATCH`).
    channel: str = "desk"
    #: Messages not written yet, oldest first; at most :data:`CLIENT_QUEUE` (see :func:`coalesce`).
    waiting: deque[dict[str, Any]] = field(default_factory=deque)
    dropped: bool = False
    writer: asyncio.Task[None] | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, message: dict[str, Any]) -> bool:
        if self.dropped:
            return False
        if coalesce(self.waiting, message):
            return True
        if len(self.waiting) >= CLIENT_QUEUE:
            self.dropped = True
            return False
        self.waiting.append(message)
        self._wake.set()
        return True

    async def write(self) -> None:
        try:
            while True:
                while not self.waiting:
                    self._wake.clear()
                    await self._wake.wait()
                message = self.waiting.popleft()
                async with asyncio.timeout(SEND_TIMEOUT):
                    await self.ws.send_json(message)
        except (asyncio.TimeoutError, ConnectionError, RuntimeError):
            self.dropped = True
        finally:
            if self.dropped and not self.ws.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.ws.close(code=WS_TRY_AGAIN, message=b"too slow; resync"), 1.0)


class Clients:
    """The open websockets of one live channel. Sending never waits: a client whose queue is
    full is dropped and closed with "try again", and its page resyncs when it reconnects."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._by_id: dict[int, Client] = {}
        self._ids = itertools.count(1)
        self.dropped = 0

    def add(self, ws: web.WebSocketResponse, **fields: Any) -> Client:
        client = Client(next(self._ids), ws, **fields)
        client.writer = asyncio.create_task(client.write(), name=f"ngcc112-ws-{self._name}-{client.id}")
        self._by_id[client.id] = client
        return client

    async def remove(self, client: Client) -> None:
        self._by_id.pop(client.id, None)
        if client.writer is not None:
            client.writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await client.writer

    def get(self, client_id: int) -> Client | None:
        return self._by_id.get(client_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def __iter__(self) -> Iterator[Client]:
        return iter(list(self._by_id.values()))

    def send(self, client: Client, message: dict[str, Any]) -> None:
        if client.offer(message):
            return
        self.dropped += 1
        log.warning(f"{self._name}.ws_client_too_slow", client=client.id, user_id=client.user_id)
        self._by_id.pop(client.id, None)
        if client.writer is not None and not client.writer.done():
            client.writer.cancel()
        asyncio.get_running_loop().create_task(self._close_slow(client))

    @staticmethod
    async def _close_slow(client: Client) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.close(code=WS_TRY_AGAIN, message=b"too slow; resync"), 2.0)

    async def close_all(self) -> None:
        """Close every websocket (at shutdown: open sockets would hold the server up)."""
        clients = list(self._by_id.values())
        self._by_id.clear()
        for client in clients:
            if client.writer is not None:
                client.writer.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopping"), 1.0)


class LiveHub:
    """Feeds the presence and call boards from the hub and fans changes out to browsers."""

    def __init__(
        self,
        hub: Hub,
        presence: PresenceBoard,
        calls: CallBoard,
        *,
        refresh: Callable[[], Awaitable[MembersResynced]] | None = None,
        subscription_size: int = 10000,
    ) -> None:
        self._hub = hub
        #: Asks Asterisk for the queue's members again (after events were lost).
        self._refresh = refresh
        self._subscription_size = subscription_size
        self.presence = presence
        self.calls = calls
        self.clients = Clients("panel")
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._presence_changed = asyncio.Condition()
        self.events = 0
        self._feeds: list[Feed] = []

    # lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        self._subscription = self._hub.subscribe(maxsize=self._subscription_size)
        self._task = asyncio.create_task(self._consume(), name="ngcc112-panel-live")

    async def close_clients(self) -> None:
        """Close every websocket (at shutdown: open sockets would hold the server up)."""
        await self.clients.close_all()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._subscription is not None:
            self._subscription.close()
        for feed in self._feeds:
            feed.close()
        await self.close_clients()

    # clients ------------------------------------------------------------------------
    def add(
        self,
        ws: web.WebSocketResponse,
        *,
        user_id: int,
        role: str,
        interface: str | None,
        describe: Callable[[MemberPresence], dict[str, Any]],
        channel: str = DESK,
        agency_id: int | None = None,
    ) -> Client:
        return self.clients.add(
            ws, user_id=user_id, role=role, interface=interface, describe=describe, channel=channel, agency_id=agency_id
        )

    def add_feed(self, feed: Feed) -> None:
        """Let ``feed`` hear every hub item after the desk's boards did."""
        self._feeds.append(feed)

    def on_channel(self, channel: str) -> list[Client]:
        return [client for client in self.clients if client.channel == channel]

    def send(self, client: Client, message: dict[str, Any]) -> None:
        """Offer ``message`` to one socket (never waits; a stalled socket is dropped)."""
        self.clients.send(client, message)

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

    def _to_interface(self, interface: str, message: dict[str, Any]) -> None:
        for client in self.clients:
            if client.interface == interface:
                self._send(client, message)

    def _tell_desk(self, interface: str, **extra: str) -> None:
        """The operator's desk (the call ringing, the one answered) to their sockets."""
        desk = self.calls.desk(interface)
        ringing, active = (call.call_id if call else None for call in (desk.ringing, desk.active))
        self._to_interface(interface, {"type": "call", "ringing": ringing, "active": active, **extra})

    @staticmethod
    def _watches_room(client: Client) -> bool:
        """Dispatchers and admins watch the whole room; agencies never see calls they were not sent."""
        return client.channel == DESK and client.interface is None and client.role != Role.AGENCY.value

    def _to_watchers(self, message: dict[str, Any]) -> None:
        for client in self.clients:
            if self._watches_room(client):
                self._send(client, message)

    def _presence_message(self, client: Client, member: MemberPresence) -> dict[str, Any]:
        return {"type": "presence", **client.describe(member)}

    def _broadcast_presence(self, members: list[MemberPresence]) -> None:
        """Each member's presence to their own desk; the room's watchers one "board" for them all
        (one per member overflowed a watcher's queue when a resync changed 64 members or more)."""
        for member in members:
            for client in self.clients:
                if client.interface == member.interface:
                    self._send(client, self._presence_message(client, member))
        if members:
            self._to_watchers({"type": "board"})

    # consumption --------------------------------------------------------------------
    async def _consume(self) -> None:
        while True:
            assert self._subscription is not None  # set in start(); narrows the type
            await self._consume_one(await self._subscription.get())
            for _ in range(CONSUME_BATCH - 1):  # what else has come, without a loop turn each
                if self._subscription.queue.empty():
                    break
                await self._consume_one(self._subscription.queue.get_nowait())
            # Let the browsers' writers run between batches, so a burst is not mistaken for a stall.
            await asyncio.sleep(0)

    async def _consume_one(self, item: object) -> None:
        assert self._subscription is not None  # set in start(); narrows the type
        if self._subscription.overflowed:
            # The hub dropped us (only if this loop stalled): events were lost. Listen again,
            # ask Asterisk for the members, and make every browser fetch its state again.
            log.error("panel.live_overflow")
            self._subscription.close()
            self._subscription = self._hub.subscribe(maxsize=self._subscription_size)
            await self._refresh_presence()
            for client in self.clients:
                self._send(client, {"type": "resync"})
        self.events += 1
        try:
            await self.handle(item)
        except Exception:
            log.exception("panel.live_event_failed", item=type(item).__name__)
        for feed in self._feeds:
            try:
                await feed.handle(item)
            except Exception:
                log.exception("panel.live_feed_failed", feed=type(feed).__name__, item=type(item).__name__)

    async def _refresh_presence(self) -> None:
        if self._refresh is None:
            return
        try:
            resynced = await self._refresh()
        except Exception as exc:  # Asterisk away: the next reconnect's resync corrects the board
            log.warning("panel.presence_refresh_failed", error=str(exc))
            return
        await self.handle(resynced)

    async def handle(self, item: object) -> None:
        if isinstance(item, ClusterResync):
            # another node's events may have been missed: every browser fetches its state again
            await self._refresh_presence()
            for client in self.clients:
                self._send(client, {"type": "resync"})
            return
        if isinstance(item, WrapUpChanged):
            # the desk shows the after-call work deadline, or the warning once the limit passed
            self._tell_desk(item.interface, wrap_up=item.state)
            return
        if isinstance(item, (MemberState, MembersResynced)):
            self._broadcast_presence(self.presence.apply(item))
            async with self._presence_changed:
                self._presence_changed.notify_all()
            return
        if isinstance(item, (CallArrived, CallerIdentified)):
            self.calls.apply(item)
            return
        if isinstance(item, _DESK_EVENTS):
            touched = set()
            if isinstance(item, TicketChanged):
                touched = self.calls.interfaces_for(item.linkedid)
            touched |= self.calls.apply(item)
            for interface in touched:
                self._tell_desk(interface)
            if isinstance(item, TicketChanged):
                self._to_watchers({"type": "board", "ticket_id": item.ticket_id})

    async def wait_presence(self, interface: str, wanted: str, timeout: float) -> MemberPresence:
        """Wait (bounded) until Asterisk reports ``wanted`` for ``interface``; return what it says."""

        def reached() -> bool:
            return self.presence.get(interface).presence.value == wanted

        with contextlib.suppress(asyncio.TimeoutError):
            async with self._presence_changed:
                await asyncio.wait_for(self._presence_changed.wait_for(reached), timeout)
        return self.presence.get(interface)
