"""Driving a recorded transcript into the daemon on virtual time (shared by the replay tests)."""

from __future__ import annotations

from typing import Any

from ngcc112.ami.events import MembersResynced
from ngcc112.clock import VirtualClock
from ngcc112.daemon import CallDaemon
from ngcc112.sim.replay import TranscriptServer
from ngcc112.sim.driver import Driver


async def drive_replay(server: TranscriptServer, daemon: CallDaemon, resyncs: Any, clock: VirtualClock, *,
                       timeout: float) -> None:
    """Advance virtual time until ``server`` has played everything, moving it only while the daemon
    has tracked and written every event sent and every session it opened has finished its resync.
    ``resyncs`` is the caller's hub subscription (closed here)."""
    done = 0

    def resynced() -> bool:
        nonlocal done
        while not resyncs.queue.empty():
            done += isinstance(resyncs.queue.get_nowait(), MembersResynced)
        return done >= daemon.link.status.session

    driver = Driver(clock)
    driver.watch(quiet=lambda: (daemon.stats.ami_events == server.events_sent and daemon.is_drained
                                and resynced()),
                 probe=lambda: (server.events_sent, daemon.stats.ami_events, daemon.stats.db_failures,
                                daemon.stats.tickets_written, daemon.link.status.session))
    try:
        await driver.run_until(server.finished.is_set, timeout=timeout)
    finally:
        resyncs.close()
