"""The in-process event hub: publish once, every subscriber gets it in order.

Publishing never waits: each subscriber has a bounded queue; one that falls
behind (a stalled browser) is marked ``overflowed`` and dropped from the hub,
and its consumer resyncs from the database instead of slowing everyone down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import structlog

log = structlog.get_logger(__name__)


class Subscription:
    def __init__(self, hub: Hub, maxsize: int) -> None:
        self._hub = hub
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.overflowed = False

    def offer(self, item: Any) -> bool:
        try:
            self.queue.put_nowait(item)
            return True
        except asyncio.QueueFull:
            self.overflowed = True
            return False

    async def get(self) -> Any:
        return await self.queue.get()

    def close(self) -> None:
        self._hub.unsubscribe(self)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while True:
            yield await self.queue.get()


class Hub:
    def __init__(self, maxsize: int = 1000) -> None:
        self._maxsize = maxsize
        self._subscribers: set[Subscription] = set()
        self.published = 0

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        subscription = Subscription(self, maxsize or self._maxsize)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    def publish(self, item: Any) -> None:
        self.published += 1
        for subscription in list(self._subscribers):
            if not subscription.offer(item):
                log.warning("hub.subscriber_too_slow", dropped=True)
                self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
