"""Waiting for a call's ticket: woken by the store's commit on the hub, not by polling the database.

A screen-pop comes from the live call state at once; the page then asks for the call's
ticket, which the store may still be writing. :class:`TicketWaits` registers the wait
first, reads once, and sleeps until a :class:`~ngcc112.tickets.store.TicketChanged` for
that call is published (the store publishes it after the commit), reading again then. A
burst of a hundred pops is a hundred reads and a hundred wake-ups instead of twenty reads
a second each. Should its subscription fall behind (events lost), it subscribes again and
every wait still reads every :data:`RECHECK` seconds: late, never stuck.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from ngcc112.hub import Hub, Subscription
from ngcc112.tasks import cancel_all
from ngcc112.tickets.store import TicketChanged

log = structlog.get_logger(__name__)

#: Seconds between reads while no commit woke the wait (a lost event costs this, no more).
RECHECK = 0.25
#: Hub events the waits may have queued before they count as fallen behind.
SUBSCRIPTION_MAX = 10_000

T = TypeVar("T")


class TicketWaits:
    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._subscription = self._hub.subscribe(maxsize=SUBSCRIPTION_MAX)
        self._task = asyncio.create_task(self._consume(), name="ngcc112-panel-ticket-waits")

    async def stop(self) -> None:
        await cancel_all([self._task])
        if self._subscription is not None:
            self._subscription.close()

    async def until_found(self, linkedid: str, read: Callable[[], Awaitable[T | None]], wait: float) -> T | None:
        """``read()``'s answer once it is not None, or its last answer after ``wait`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            woken: asyncio.Future[None] = loop.create_future()
            self._waiting.setdefault(linkedid, set()).add(woken)  # before the read: no commit slips between
            try:
                found = await read()
                remaining = deadline - loop.time()
                if found is not None or remaining <= 0:
                    return found
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(woken, min(RECHECK, remaining))
            finally:
                waiters = self._waiting.get(linkedid)
                if waiters is not None:
                    waiters.discard(woken)
                    if not waiters:
                        del self._waiting[linkedid]

    async def _consume(self) -> None:
        while True:
            subscription = self._subscription
            assert subscription is not None  # set in start(); narrows the type
            item = await subscription.get()
            if subscription.overflowed:
                log.warning("panel.ticket_waits_fell_behind")
                subscription.close()
                self._subscription = self._hub.subscribe(maxsize=SUBSCRIPTION_MAX)
            if isinstance(item, TicketChanged):
                for woken in self._waiting.get(item.linkedid, ()):
                    if not woken.done():
                        woken.set_result(None)
