"""The live pipeline on virtual time: simulator → AMI link → tracker → tickets + triage.

The simulator, the daemon and triage share one :class:`~ngcc112.clock.VirtualClock`.
Time moves only while a test waits through the pipeline (``until``, ``settle``),
and only when everything the simulator sent has been tracked and stored, triage
has scored it and its priority changes have been answered. A 10-second no-speech
window is 10 virtual seconds, and triage always has its say before an operator
answers, however busy the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest

from ngcc112.ami.events import MembersResynced
from ngcc112.clock import VirtualClock
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim import AmiSimulator, SimulatorConfig
from ngcc112.sim.driver import Driver
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore
from ngcc112.triage.service import Triage

#: Real seconds a wait may take before the test fails (a hang, never a slow machine).
REAL_TIMEOUT = 30.0
#: What the daemon sends on its own (login, keep-alive, resync); everything else is triage's.
DAEMON_ACTIONS = {"Login", "Logoff", "Ping", "CoreShowChannels", "QueueStatus"}


@dataclasses.dataclass
class Parts:
    """What the pipeline tests reach: settings, database, hub, ticket store and daemon."""
    settings: Settings
    engine: Any
    sessions: Any
    hub: Hub
    store: TicketStore
    daemon: CallDaemon


@dataclasses.dataclass
class Pipeline:
    sim: AmiSimulator
    services: Parts
    triage: Triage
    link_task: asyncio.Task
    assessments: list[tuple[str, str, Any]]
    driver: Driver

    @property
    def store(self) -> TicketStore:
        return self.services.store

    def caught_up(self) -> bool:
        """Everything the simulator sent is tracked and stored, and triage is done with it."""
        daemon = self.services.daemon
        return (daemon.stats.ami_events == self.sim.events_delivered and daemon.is_drained
                and self.triage.is_idle)

    async def until(self, condition: Callable[[], object]) -> None:
        """Let virtual time pass until ``condition()`` holds at a quiet moment."""
        await self.driver.run_until(lambda: bool(condition()), timeout=REAL_TIMEOUT)

    async def settle(self) -> None:
        """Let every simulated call end, with everything tracked, stored and scored."""
        await self.until(lambda: not self.sim.engine.calls)

    def add_operator(self, endpoint: str, *, talk_seconds: float = 4.0,
                     ring_seconds: float = 4.0) -> None:
        """An operator softphone in the queue (as QueueAdd would make it), ringing a few
        seconds before answering, as people do, and hanging up after a while."""
        self.sim.set_softphone(endpoint, ring_seconds=ring_seconds, talk_seconds=talk_seconds)
        queue = self.sim.engine.queues["ngcc112-operators"]
        interface = f"PJSIP/{endpoint}"
        self.sim.engine.queue_add(queue, interface, endpoint, interface, 0, False)

    def actions(self, name: str | None = None) -> list[dict[str, str]]:
        sent = [headers for _user, headers in self.sim.received_actions
                if headers.get("Action") not in DAEMON_ACTIONS]
        return [h for h in sent if name is None or h.get("Action") == name]


@pytest.fixture
async def pipeline(database_url):
    """Start a simulator, the daemon on its clock and triage; yields a factory taking settings."""
    started: list[tuple[Pipeline, Any]] = []

    async def start(routing: dict[str, Any] | None = None,
                    on_assessment: Callable[..., None] | None = None) -> Pipeline:
        clock = VirtualClock()
        sim = AmiSimulator(SimulatorConfig(), clock=clock)
        await sim.start()
        engine = make_engine(database_url)
        sessions = make_sessions(engine)
        hub = Hub()
        store = TicketStore(sessions, hub.publish)
        settings = Settings(database_url=database_url, routing=routing or {},
                            ami=AmiSettings(port=sim.port, reconnect_min=0.05, reconnect_max=0.5,
                                            # real-time bounds: generous, a busy machine is no fault
                                            ping_interval=30.0, action_timeout=30.0))
        daemon = CallDaemon(settings, store, hub, clock=clock)
        services = Parts(settings, engine, sessions, hub, store, daemon)
        assessments: list[tuple[str, str, Any]] = []

        def record(call_id: str, moment: str, assessment: Any) -> None:
            assessments.append((call_id, moment, assessment))
            if on_assessment is not None:
                on_assessment(call_id, moment, assessment)

        triage = Triage(settings.routing, sessions, hub, daemon.tracker, daemon.link, clock=clock,
                        on_assessment=record)
        resyncs = hub.subscribe()
        await triage.start()
        await daemon.start()
        link_task = asyncio.create_task(daemon.run_link())
        driver = Driver(clock)
        pipe = Pipeline(sim, services, triage, link_task, assessments, driver)
        driver.watch(quiet=pipe.caught_up,
                     probe=lambda: (sim.events_delivered, daemon.stats.ami_events,
                                    daemon.stats.tickets_written, len(assessments), hub.published))
        started.append((pipe, engine))
        # logged in and resynced: no action of the daemon's own is in flight any more
        resynced = False

        def up() -> bool:
            nonlocal resynced
            while not resyncs.queue.empty():
                resynced = resynced or isinstance(resyncs.queue.get_nowait(), MembersResynced)
            return resynced or link_task.done()

        await pipe.until(up)
        resyncs.close()
        if link_task.done():
            link_task.result()
        return pipe

    yield start
    for pipe, engine in started:
        await pipe.triage.stop()
        await pipe.services.daemon.stop()
        pipe.link_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pipe.link_task
        await pipe.sim.stop()
        await engine.dispose()
