"""The link's state machine: its phases, what it retries, and a watchdog that is supervised.

The link's own waits (backoff, the watchdog's tick) go through an injected ``sleep``;
these tests fire those timers themselves, so nothing here waits for a ping interval.
"""

from __future__ import annotations

import asyncio

import pytest

from ami_peers import ScriptedAsterisk
from ngcc112.ami import link as link_module
from ngcc112.ami.link import AmiLink
from ngcc112.ami.link_items import Snapshot
from ngcc112.ami.link_status import LinkPhase
from ngcc112.settings import AmiSettings

PING = 10.0      # the watchdog's tick in these tests
BACKOFF = 0.5    # the first reconnect delay
REAL_TIMEOUT = 30.0


class Timers:
    """An injected ``sleep`` whose sleepers wait until the test fires them."""

    def __init__(self) -> None:
        self.sleeping: list[tuple[float, asyncio.Future[None]]] = []

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        entry = (seconds, future)
        self.sleeping.append(entry)
        try:
            await future
        finally:
            self.sleeping.remove(entry)

    async def fire(self, seconds: float) -> None:
        """Wake the (first) sleeper waiting ``seconds``, once one is waiting."""
        await until(lambda: any(s == seconds and not f.done() for s, f in self.sleeping),
                    f"a timer of {seconds} s")
        next(f for s, f in self.sleeping if s == seconds and not f.done()).set_result(None)


async def until(predicate, what: str) -> None:
    """Poll a condition with a real-time bound only a hang reaches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + REAL_TIMEOUT
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def settings(port: int) -> AmiSettings:
    return AmiSettings(port=port, ping_interval=PING, reconnect_min=BACKOFF, reconnect_max=4.0,
                       action_timeout=5.0)


@pytest.fixture
async def peer():
    scripted = ScriptedAsterisk([])
    scripted.port = await scripted.start()
    yield scripted
    await scripted.stop()


@pytest.fixture
async def running():
    started: list[tuple[AmiLink, asyncio.Task[None]]] = []

    def start(link: AmiLink) -> AmiLink:
        started.append((link, asyncio.create_task(link.run())))
        return link

    yield start
    for link, task in started:
        await link.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_phases_go_connecting_resyncing_up_and_back_off_after_a_drop(peer, running):
    timers = Timers()
    seen: list[LinkPhase] = []
    link = AmiLink(settings(peer.port), lambda item: seen.append(link.status.phase)
                   if isinstance(item, Snapshot) else None, sleep=timers.sleep)
    assert link.status.phase is LinkPhase.STARTING
    running(link)
    await until(lambda: link.status.phase is LinkPhase.UP, "the link up")
    assert seen == [LinkPhase.RESYNCING]  # the snapshot is taken while resyncing
    assert link.connected and link.status.session == 1 and link.status.phase_since is not None

    link.drop()
    await until(lambda: link.status.phase is LinkPhase.BACKING_OFF, "backing off")
    assert not link.connected
    await timers.fire(BACKOFF)
    await until(lambda: link.status.phase is LinkPhase.UP and link.status.session == 2, "session 2")

    await link.stop()
    await until(lambda: link.status.phase is LinkPhase.STOPPED, "stopped")


async def test_an_unexpected_error_in_a_session_is_retried_not_fatal(peer, running, monkeypatch):
    timers = Timers()
    real_queue_status = link_module.actions.queue_status
    failures = [KeyError("a bug while resyncing")]

    def queue_status(queue):
        if failures:
            raise failures.pop()
        return real_queue_status(queue)

    monkeypatch.setattr(link_module.actions, "queue_status", queue_status)
    link = running(AmiLink(settings(peer.port), lambda item: None, sleep=timers.sleep))
    await until(lambda: link.status.phase is LinkPhase.BACKING_OFF, "backing off after the bug")
    assert "a bug while resyncing" in link.status.last_error
    await timers.fire(BACKOFF)
    await until(lambda: link.status.phase is LinkPhase.UP, "up again")
    assert peer.logins == 2


async def test_two_missed_pings_drop_the_link_on_fired_timers(running):
    silent = ScriptedAsterisk([], answer_pings=False)
    port = await silent.start()
    timers = Timers()
    link = running(AmiLink(settings(port), lambda item: None, sleep=timers.sleep))
    await until(lambda: link.status.phase is LinkPhase.UP, "up")
    await timers.fire(PING)   # first tick: a ping goes out
    await timers.fire(PING)   # unanswered: one miss, another ping
    assert link.status.phase is LinkPhase.UP
    await timers.fire(PING)   # two misses: dropped
    await until(lambda: link.status.phase is LinkPhase.BACKING_OFF, "dropped after two misses")
    assert link.status.last_error == "no answer to two pings"
    await timers.fire(BACKOFF)
    await until(lambda: silent.logins == 2, "a second login")
    await silent.stop()


async def test_answered_pings_keep_the_link(peer, running):
    timers = Timers()
    link = running(AmiLink(settings(peer.port), lambda item: None, sleep=timers.sleep))
    await until(lambda: link.status.phase is LinkPhase.UP, "up")
    for _ in range(5):
        await timers.fire(PING)
    await timers.fire(PING)
    assert link.status.phase is LinkPhase.UP and link.status.session == 1 and peer.logins == 1


async def test_a_watchdog_that_dies_drops_its_connection_instead_of_leaving_it_unwatched(
        peer, running, monkeypatch):
    timers = Timers()
    link = running(AmiLink(settings(peer.port), lambda item: None, sleep=timers.sleep))
    await until(lambda: link.status.phase is LinkPhase.UP, "up")

    def broken_ping():
        raise TypeError("a bug in the watchdog")

    monkeypatch.setattr(link_module.actions, "ping", broken_ping)
    await timers.fire(PING)
    await until(lambda: link.status.watchdog_failures == 1, "the watchdog's failure seen")
    await until(lambda: link.status.phase is LinkPhase.BACKING_OFF, "the unwatched connection dropped")
    assert "watchdog failed" in link.status.last_error
    monkeypatch.undo()
    await timers.fire(BACKOFF)
    await until(lambda: link.status.phase is LinkPhase.UP and peer.logins == 2, "a fresh, watched session")
