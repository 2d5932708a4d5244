"""Moving a :class:`~ngcc112.clock.VirtualClock` only at quiet moments.

A run on virtual time is a sequence of instants. At each one the harness lets
everything that can happen *now* happen — the simulator's woken callers emit
their events, the bytes cross the socket, the daemon tracks and stores them,
triage scores and answers — and only when all of that is over does it move the
clock to the next deadline. "Over" is defined by the harness, never by a wall
clock:

* every *quiet condition* it registered holds (the bytes the simulator wrote
  have all been read, the daemon has drained its queues, …);
* and for :data:`QUIET_TURNS` consecutive turns of the event loop nothing it
  watches changed (the clock's sleepers, the *probes*: counters of events).

Waiting for those takes however long the machine needs; what happens at each
instant does not depend on it. A run that cannot settle within ``timeout``
real seconds fails loudly instead of going on with a different result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ngcc112.clock import VirtualClock

#: Loop turns without any observable change before an instant counts as over. A
#: chain of callbacks that changes nothing observable (a task woken by a future
#: that another task resolved, …) is a handful of turns long; this leaves room.
QUIET_TURNS = 16
#: Turns spent yielding before waiting for I/O or a thread starts sleeping 1 ms
#: between looks (so a long wait does not spin a core).
SPIN_TURNS = 200

Condition = Callable[[], bool]
Probe = Callable[[], object]


class NotSettled(TimeoutError):
    """The system did not come to rest, or the awaited condition never came."""


class Driver:
    """Steps ``clock`` from one quiet moment to the next. See the module docstring."""

    def __init__(self, clock: VirtualClock, *, turns: int = QUIET_TURNS) -> None:
        self.clock = clock
        self.turns = turns
        self._quiet: list[Condition] = []
        self._probes: list[Probe] = []

    def watch(self, *, quiet: Condition | None = None, probe: Probe | None = None) -> None:
        """Add a condition that must hold before time moves, and/or a value to watch."""
        if quiet is not None:
            self._quiet.append(quiet)
        if probe is not None:
            self._probes.append(probe)

    def quiet(self) -> bool:
        return all(condition() for condition in self._quiet)

    def _snapshot(self) -> tuple[object, ...]:
        return (self.clock.version, *(probe() for probe in self._probes))

    async def settle(self, timeout: float = 60.0) -> None:
        """Return once the current instant is over (conditions hold, nothing changes)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: tuple[object, ...] | None = None
        stable = waiting = 0
        while True:
            snapshot = self._snapshot()
            if snapshot != last:
                last, stable, waiting = snapshot, 0, 0
            elif self.quiet():
                stable += 1
                if stable >= self.turns:
                    return
            else:
                waiting += 1  # on bytes in flight, a database thread, …
            if loop.time() > deadline:
                raise NotSettled(f"not quiet after {timeout:g} s: {[c for c in self._quiet if not c()]}")
            await asyncio.sleep(0.001 if waiting > SPIN_TURNS else 0)

    async def run_until(self, done: Condition, *, within: float | None = None, timeout: float = 60.0) -> None:
        """Move time, one deadline at a time, until ``done()`` holds at a quiet moment.

        ``within``: at most this many virtual seconds from now (NotSettled after);
        ``timeout``: real seconds for the whole run, only a guard against a hang.
        """
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        start = self.clock.monotonic()
        while True:
            await self.settle(max(give_up - loop.time(), 0.0))
            if done():
                return
            next_at = self.clock.next_deadline()
            if next_at is None:
                # nothing is due on this clock: only something outside it (a thread, a
                # real-time retry, a peer) can still change things
                if loop.time() > give_up:
                    raise NotSettled(f"condition not met and nothing left to run within {timeout:g} s")
                await asyncio.sleep(0.001)
                continue
            if within is not None and next_at - start > within:
                raise NotSettled(f"condition not met within {within:g} virtual seconds")
            self.clock.advance_to_next()

    async def advance(self, seconds: float, *, timeout: float = 60.0) -> None:
        """Let ``seconds`` of virtual time pass, every deadline in between at its own instant."""
        target = self.clock.monotonic() + seconds
        loop = asyncio.get_running_loop()
        give_up = loop.time() + timeout
        while True:
            await self.settle(max(give_up - loop.time(), 0.0))
            next_at = self.clock.next_deadline()
            if next_at is None or next_at > target:
                break
            self.clock.advance_to_next()
        self.clock.advance(max(target - self.clock.monotonic(), 0.0))
        await self.settle(max(give_up - loop.time(), 0.0))
