"""The injected clock: the host's, a virtual one that moves only when told, and the driver."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from ngcc112.clock import SYSTEM_CLOCK, VIRTUAL_EPOCH, VirtualClock, utc, wait_for
from ngcc112.sim.driver import Driver, NotSettled


async def test_the_system_clock_is_the_hosts():
    before = time.time()
    assert before <= SYSTEM_CLOCK.now() <= time.time()
    assert utc(SYSTEM_CLOCK).tzinfo is UTC
    started = SYSTEM_CLOCK.monotonic()
    await SYSTEM_CLOCK.sleep(0.01)
    assert SYSTEM_CLOCK.monotonic() - started >= 0.009
    await SYSTEM_CLOCK.sleep(-1)  # at once


async def test_virtual_time_stands_still_until_it_is_moved():
    clock = VirtualClock()
    assert clock.now() == VIRTUAL_EPOCH and clock.monotonic() == 0.0
    assert utc(clock) == datetime.fromtimestamp(VIRTUAL_EPOCH, UTC)
    sleeper = asyncio.create_task(clock.sleep(5.0))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not sleeper.done() and clock.now() == VIRTUAL_EPOCH
    assert clock.next_deadline() == 5.0 and clock.sleepers == 1
    assert clock.advance_to_next() == 5.0
    await sleeper
    assert clock.monotonic() == 5.0 and clock.now() == VIRTUAL_EPOCH + 5.0
    assert clock.next_deadline() is None and clock.advance_to_next() is None


async def test_sleepers_wake_in_deadline_order_ties_in_the_order_they_slept():
    clock = VirtualClock(start=1000.0)
    woke: list[tuple[str, float]] = []

    async def nap(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(nap(name, seconds))
             for name, seconds in (("c", 3.0), ("a", 1.0), ("b1", 2.0), ("b2", 2.0))]
    await asyncio.sleep(0)
    while clock.advance_to_next() is not None:
        for _ in range(3):
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert woke == [("a", 1001.0), ("b1", 1002.0), ("b2", 1002.0), ("c", 1003.0)]


async def test_advance_wakes_everything_due_and_lands_exactly():
    clock = VirtualClock()
    early, late = (asyncio.create_task(clock.sleep(s)) for s in (1.0, 10.0))
    await asyncio.sleep(0)
    clock.advance(2.5)
    await early
    assert clock.monotonic() == 2.5 and not late.done()
    with pytest.raises(ValueError):
        clock.advance(-1)
    late.cancel()
    with pytest.raises(asyncio.CancelledError):
        await late
    assert clock.next_deadline() is None and clock.sleepers == 0  # a cancelled sleeper leaves


async def test_wait_for_on_virtual_time():
    clock = VirtualClock()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    waiting = asyncio.create_task(wait_for(clock, asyncio.shield(future), 3.0))
    await asyncio.sleep(0)
    future.set_result("answered")
    assert await waiting == "answered"
    assert clock.next_deadline() is None  # its timer is gone

    never: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    timing_out = asyncio.create_task(wait_for(clock, asyncio.shield(never), 3.0))
    while clock.next_deadline() is None:  # its timer goes to sleep
        await asyncio.sleep(0)
    clock.advance_to_next()
    with pytest.raises(TimeoutError):
        await timing_out
    assert clock.monotonic() == 3.0 and not never.cancelled()  # shielded: kept
    assert await wait_for(clock, asyncio.sleep(0, result=7), None) == 7


async def test_the_driver_moves_time_only_when_the_quiet_conditions_hold():
    clock = VirtualClock()
    driver = Driver(clock)
    inbox: list[float] = []
    handled: list[float] = []
    driver.watch(quiet=lambda: len(handled) == len(inbox), probe=lambda: (len(inbox), len(handled)))

    async def producer() -> None:
        for _ in range(3):
            await clock.sleep(1.0)
            inbox.append(clock.monotonic())

    async def slow_consumer() -> None:  # real time, like a database thread
        while True:
            if len(handled) < len(inbox):
                await asyncio.sleep(0.01)
                handled.append(clock.monotonic())  # the time it saw when it handled it
            await asyncio.sleep(0)

    consumer = asyncio.create_task(slow_consumer())
    task = asyncio.create_task(producer())
    try:
        await driver.run_until(task.done, timeout=10)
    finally:
        consumer.cancel()
    # each item handled before time moved on: at the instant it was produced
    assert handled == inbox == [1.0, 2.0, 3.0]


async def test_the_driver_advances_through_every_deadline_and_gives_up_loudly():
    clock = VirtualClock()
    driver = Driver(clock)
    seen: list[float] = []

    async def ticker() -> None:
        while True:
            await clock.sleep(0.5)
            seen.append(clock.monotonic())

    task = asyncio.create_task(ticker())
    try:
        await driver.advance(2.2)
        assert seen == [0.5, 1.0, 1.5, 2.0] and clock.monotonic() == pytest.approx(2.2)
        with pytest.raises(NotSettled, match="virtual seconds"):
            await driver.run_until(lambda: False, within=3.0)
    finally:
        task.cancel()
    with pytest.raises(NotSettled):
        await driver.run_until(lambda: False, timeout=0.2)  # nothing left to run, ever
