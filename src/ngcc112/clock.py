"""Time, injected: the one clock the daemon, the simulator and the harness read.

Production runs on :data:`SYSTEM_CLOCK` (the host's time). The simulator, the
transcript replay, the heuristics evaluation and the tests run on a
:class:`VirtualClock`: its time moves only when the harness moves it, at
moments the harness chose (see :mod:`ngcc112.sim.driver`), so no result can
depend on how busy the machine is.

A :class:`Clock` has three things: ``now()`` (epoch seconds, UTC),
``monotonic()`` (seconds that never jump) and ``sleep(seconds)``;
:func:`wait_for` bounds a wait on any clock, :func:`utc` reads it as a
``datetime``.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Protocol, TypeVar

T = TypeVar("T")

#: Where a VirtualClock starts unless told: 2026-11-28 05:00:00 UTC, near the recordings.
VIRTUAL_EPOCH = 1795842000.0


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (UTC), like :func:`time.time`."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for intervals."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return once ``seconds`` have passed on this clock (at once for ``<= 0``)."""
        ...


def utc(clock: Clock) -> datetime:
    """The clock's now as an aware UTC ``datetime``."""
    return datetime.fromtimestamp(clock.now(), UTC)


class SystemClock:
    """The host's clock: wall time, monotonic time, :func:`asyncio.sleep`."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


SYSTEM_CLOCK = SystemClock()


class VirtualClock:
    """A clock whose time stands still until :meth:`advance_to_next` or :meth:`advance`.

    Sleepers wait in a heap by deadline; moving the time wakes them in deadline
    order, those with the same deadline in the order they went to sleep.
    :attr:`version` changes whenever a sleeper comes or goes, so a harness can
    tell "nothing happened" from "something went back to sleep".
    """

    def __init__(self, start: float = VIRTUAL_EPOCH) -> None:
        self._epoch = start
        self._elapsed = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self.version = 0

    def now(self) -> float:
        return self._epoch + self._elapsed

    def monotonic(self) -> float:
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._elapsed + seconds, next(self._order), future))
        self.version += 1
        try:
            await future
        finally:
            if not future.done():  # cancelled: it leaves the heap lazily, see _purge
                future.cancel()
                self.version += 1

    # moving time ---------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """The monotonic time of the earliest sleeper still waiting, or None."""
        self._purge()
        return self._sleepers[0][0] if self._sleepers else None

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, future in self._sleepers if not future.done())

    def advance_to_next(self) -> float | None:
        """Move to the earliest deadline and wake every sleeper due then; the new time or None."""
        deadline = self.next_deadline()
        if deadline is None:
            return None
        self._elapsed = max(self._elapsed, deadline)
        self._wake_due()
        return deadline

    def advance(self, seconds: float) -> None:
        """Move ``seconds`` ahead at once, waking every sleeper due by then in deadline order.

        The woken tasks run only after this returns and all see the new time; to
        let each one act at its own deadline, step with :meth:`advance_to_next`.
        """
        if seconds < 0:
            raise ValueError("time does not go back")
        self._elapsed += seconds
        self._wake_due()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._elapsed:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
                self.version += 1

    def _purge(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)


async def wait_for(clock: Clock, awaitable: Awaitable[T], timeout: float | None) -> T:
    """Like :func:`asyncio.wait_for`, timed on ``clock``: the result, or TimeoutError.

    On a timeout the awaitable is cancelled (wrap a future in
    :func:`asyncio.shield` to keep it).
    """
    if timeout is None:
        return await awaitable
    task = asyncio.ensure_future(awaitable)
    timer = asyncio.ensure_future(clock.sleep(timeout))
    try:
        await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        timer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await timer
    if task.done():
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    raise TimeoutError
