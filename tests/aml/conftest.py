"""Fixtures for the AML and location tests: a database, tickets, the intake app."""

from __future__ import annotations

import types
from datetime import datetime

import pytest
from aiohttp import web
from aml_helpers import GATEWAY, GATEWAY_SECRET
from sqlalchemy.exc import OperationalError

from ngcc112.aml_http.guard import AmlGuard
from ngcc112.aml_http.intake import AmlIntake
from ngcc112.aml_http.routes import aml_routes
from ngcc112.ami.events import CallArrived, CallEnded
from ngcc112.hub import Hub
from ngcc112.settings import AmlSettings
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.aml_locations import AmlLocations
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.store import TicketStore


class Db:
    def __init__(self, sessions, hub: Hub) -> None:
        self.sessions = sessions
        self.hub = hub
        self.store = TicketStore(sessions, hub.publish)
        self._n = 0

    async def call(self, number: str | None, arrived: datetime,
                   ended: datetime | None = None) -> int:
        """A ticket as the daemon makes it: CallArrived, then CallEnded."""
        self._n += 1
        call_id = f"call-{self._n}"
        change = await self.store.record(CallArrived(
            call_id=call_id, at=arrived, channel=f"PJSIP/caller1-{self._n:08x}",
            uniqueid=f"u{self._n}", caller_number=number, caller_name=None, exten="112"))
        if ended is not None:
            await self.store.record(CallEnded(call_id=call_id, at=ended, cause=16,
                                              cause_text="Normal Clearing"))
        return change.ticket_id


@pytest.fixture
async def db(database_url):
    engine = make_engine(database_url)
    yield Db(make_sessions(engine), Hub())
    await engine.dispose()


class FlakySessions:
    """A session factory that fails like an unreachable database while ``down`` is set."""

    def __init__(self, sessions) -> None:
        self._sessions = sessions
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))

    def __call__(self, *args, **kwargs):
        self._check()
        return self._sessions(*args, **kwargs)

    def begin(self, *args, **kwargs):
        self._check()
        return self._sessions.begin(*args, **kwargs)


@pytest.fixture
def aml_settings() -> AmlSettings:
    """The test client posts from 127.0.0.1, an allowed network: a gateway on the LAN."""
    return AmlSettings(senders=(f"{GATEWAY}:{GATEWAY_SECRET}",), allow_networks=("127.0.0.1/32",))


@pytest.fixture
def trusted_proxies() -> tuple[str, ...]:
    """Reverse proxies whose X-Forwarded-For is believed: none unless a test says so."""
    return ()


class ManualMonotonic:
    """The budgets' clock: it moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def intake_app(db, aiohttp_client, aml_settings, trusted_proxies):
    """An aiohttp client for an app with only the AML routes, on a database that can fail."""
    flaky = FlakySessions(db.sessions)
    aml_locations = AmlLocations(Locations(flaky, db.hub.publish))  # type: ignore[arg-type]
    monotonic = ManualMonotonic()
    guard = AmlGuard(aml_settings, trusted_proxies=trusted_proxies, monotonic=monotonic)
    intake = AmlIntake(aml_locations, guard=guard, retry_min=0.02, retry_max=0.1)
    app = web.Application()
    app.add_routes(aml_routes(intake))
    client = await aiohttp_client(app)
    locations = Locations(db.sessions, db.hub.publish)
    yield types.SimpleNamespace(client=client, intake=intake, flaky=flaky, db=db, locations=locations,
                                aml_locations=AmlLocations(locations), monotonic=monotonic)
    await intake.close(timeout=1.0)
