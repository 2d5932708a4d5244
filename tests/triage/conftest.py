"""The live pipeline on the simulator's clock: simulator → AMI link → tracker → tickets + triage.

The daemon is built with the simulator's clock (simulated seconds) so that a
10-second no-speech window is 10 simulated seconds whatever the speed; the
triage timers sleep ``seconds / speed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from ngcc112.app import Services
from ngcc112.daemon import CallDaemon
from ngcc112.hub import Hub
from ngcc112.settings import AmiSettings, Settings
from ngcc112.sim import AmiSimulator, SimulatorConfig
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.store import TicketStore
from ngcc112.triage import Triage

SPEED = 20.0
#: What the daemon sends on its own (login, keep-alive, resync); everything else is triage's.
DAEMON_ACTIONS = {"Login", "Logoff", "Ping", "CoreShowChannels", "QueueStatus"}


@dataclasses.dataclass
class Pipeline:
    sim: AmiSimulator
    services: Services
    triage: Triage
    link_task: asyncio.Task
    assessments: list[tuple[str, str, Any]]

    @property
    def store(self) -> TicketStore:
        return self.services.store

    async def settle(self) -> None:
        """Wait until every simulated call ended and everything was tracked, stored and scored."""
        await asyncio.wait_for(self.sim.wait_idle(), 30)
        for _ in range(3):
            await asyncio.wait_for(self.services.daemon.drained(), 15)
            await asyncio.wait_for(self.triage.idle(), 15)
            await asyncio.sleep(0.05)

    def add_operator(self, endpoint: str, *, talk_seconds: float = 4.0,
                     ring_seconds: float = 4.0) -> None:
        """An operator softphone in the queue (as QueueAdd would make it), hanging up after a
        while. It rings a few seconds before answering, as people do: time for triage to
        steer the caller while it still waits, even on a loaded test machine."""
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
        sim = AmiSimulator(SimulatorConfig(speed=SPEED))
        await sim.start()

        def clock() -> datetime:
            return datetime.fromtimestamp(sim.engine.wall(), UTC)

        engine = make_engine(database_url)
        sessions = make_sessions(engine)
        hub = Hub()
        store = TicketStore(sessions, hub.publish)
        settings = Settings(database_url=database_url, routing=routing or {},
                            ami=AmiSettings(port=sim.port, reconnect_min=0.05, reconnect_max=0.5,
                                            ping_interval=5.0, action_timeout=2.0))
        daemon = CallDaemon(settings, store, hub, clock=clock)
        services = Services(settings, engine, sessions, hub, store, daemon)
        assessments: list[tuple[str, str, Any]] = []

        def record(call_id: str, moment: str, assessment: Any) -> None:
            assessments.append((call_id, moment, assessment))
            if on_assessment is not None:
                on_assessment(call_id, moment, assessment)

        triage = Triage(services, clock=clock, time_scale=SPEED, on_assessment=record)
        await triage.start()
        await daemon.start()
        link_task = asyncio.create_task(daemon.run_link())
        for _ in range(200):
            if daemon.link.status.connected:
                break
            await asyncio.sleep(0.01)
        pipe = Pipeline(sim, services, triage, link_task, assessments)
        started.append((pipe, engine))
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
