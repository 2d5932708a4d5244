"""A database with agencies, one user per role and agency users, and a ticket factory."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from ngcc112.tickets.agencies import seed_agencies
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.dispatch_models import Agency, AgencyMember
from ngcc112.tickets.models import Ticket, User
from ngcc112.tickets.store import TicketChanged

T0 = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class World:
    sessions: object
    users: dict[str, User]
    agencies: dict[str, Agency]
    published: list[TicketChanged] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)
    _linkedids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def publish(self, change: TicketChanged) -> None:
        self.published.append(change)

    async def ticket(self, state: str = "escalated", verdict: str | None = "normal") -> Ticket:
        async with self.sessions.begin() as session:
            ticket = Ticket(linkedid=f"1764230400.{next(self._linkedids)}", state=state, verdict=verdict,
                            arrived_at=T0, variables={}, score_reasons=[], intake={},
                            abandoned=False, withdrawn=False, ended_unobserved=False,
                            caller_number="081234567890")
            session.add(ticket)
        return ticket

    async def user(self, username: str, role: str, agency: str | None = None, active: bool = True) -> User:
        async with self.sessions.begin() as session:
            user = User(username=username, role=role, password_hash="unused", display_name=username,
                        active=active)
            session.add(user)
            await session.flush()
            if agency is not None:
                session.add(AgencyMember(user_id=user.id, agency_id=self.agencies[agency].id))
        self.users[username] = user
        return user


@pytest.fixture
async def world(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    await seed_agencies(sessions)
    async with sessions() as session:
        from sqlalchemy import select

        agencies = {a.code: a for a in (await session.scalars(select(Agency))).all()}
    w = World(sessions, {}, agencies)
    for username, role in (("op1", "operator"), ("disp", "dispatcher"), ("admin", "admin")):
        await w.user(username, role)
    await w.user("damkar1", "agency", "damkar")
    await w.user("damkar2", "agency", "damkar")
    await w.user("psc1", "agency", "psc119")
    await w.user("polisi1", "agency", "polisi")
    await w.user("loose", "agency")  # an agency user nobody put in an agency yet
    yield w
    await engine.dispose()
