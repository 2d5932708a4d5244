"""The panel as the fuzzers and the bad-input tests meet it (no tests of its own here).

The app (the shared ``client``'s, conftest.py) listens on a real port of the test's event loop,
over a database with an account for each role, the agencies, and a few tickets at each stage
(in a call, escalated, dispatched to the agency user's agency, abandoned) with low ids, so that
fuzzed ids reach real rows (:func:`seed`). The fuzzers drive it with blocking HTTP (schemathesis
uses ``requests``) from a worker thread (:func:`asyncio.to_thread`) while the loop serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import requests
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ngcc112.ami.actions import AmiAction
from ngcc112.ami.events import CallAbandoned, CallArrived, CallConnected, CallEnded, CallQueued, MemberState
from ngcc112.ami.link_items import AmiResponse
from ngcc112.ami.link_status import LinkPhase, LinkStatus
from ngcc112.ami.message import AmiMessage
from ngcc112.names import OPERATOR_QUEUE
from ngcc112.services import Services
from ngcc112.tickets import dispatch as dispatching
from ngcc112.tickets import intake
from ngcc112.tickets import intake_form
from ngcc112.tickets.agencies import seed_agencies, seed_agency_member
from ngcc112.tickets.db import make_engine, make_sessions, upgrade
from ngcc112.tickets.locations import Locations
from ngcc112.tickets.models import User
from ngcc112.tickets.store import TicketStore
from ngcc112.tickets.users import add_user, get_user, seed_demo_users

#: Each role and the demo account that logs in as it (ids 1-6: fuzzed ids reach them).
ACCOUNTS = {"operator": "op1", "dispatcher": "dispatcher", "agency": "agency", "admin": "admin"}
#: One more account per role (ids 7-10) that no fuzzed id names: it looks at the pages afterwards.
OBSERVERS = {role: f"watch-{role}" for role in ACCOUNTS}
CSRF_HEADER = "X-CSRF-Token"


def password(username: str) -> str:
    return f"{username}-demo-112"


class QuietLink:
    """Stands in for the AMI link: every action succeeds, queue changes are reported back as
    Asterisk would (so a presence change completes at once), Originate is queued."""

    def __init__(self, hub: object) -> None:
        self._hub = hub
        self.status = LinkStatus(phase=LinkPhase.UP, session=1)
        self._members: dict[str, bool] = {}

    connected = True

    def listen(self, listener: object) -> object:
        return lambda: None

    async def send(self, action: AmiAction, timeout: float | None = None) -> AmiResponse:
        interface = action.get("Interface") or ""
        if action.name in ("QueueAdd", "QueuePause", "QueueRemove"):
            paused = action.get("Paused") == "true"
            in_queue = action.name != "QueueRemove"
            self._hub.publish(MemberState(at=datetime.now(timezone.utc), queue=OPERATOR_QUEUE, interface=interface,
                                          member_name=action.get("MemberName") or interface, in_queue=in_queue,
                                          paused=paused and in_queue, pause_reason=action.get("Reason") or "",
                                          status=1))
        message = AmiMessage.from_mapping({"Response": "Success", "Message": "OK"}, datetime.now(timezone.utc))
        assert message is not None
        return AmiResponse(response=message)


async def seed(url: str, *, observers: bool = True) -> None:
    """Users (the demo ones, then the observers), agencies, and tickets 1-4: in a call (op1),
    escalated, dispatched to damkar, abandoned; a position for ticket 1."""
    await upgrade(url)
    engine = make_engine(url)
    sessions = make_sessions(engine)
    try:
        await seed_demo_users(sessions)
        await seed_agencies(sessions)
        await seed_agency_member(sessions, "agency", "damkar")
        for role, username in OBSERVERS.items() if observers else ():
            await add_user(sessions, username=username, role=role, password=password(username),
                           interface="PJSIP/watch-operator" if role == "operator" else None,
                           agency="damkar" if role == "agency" else None)
        store = TicketStore(sessions, None)
        now = datetime.now(timezone.utc)

        async def arrive(call_id: str, interface: str | None) -> int:
            await store.record(CallArrived(call_id=call_id, at=now, channel=f"PJSIP/caller-{call_id}",
                                           uniqueid=call_id, caller_number="081234567890",
                                           caller_name="Penelepon", exten="112"))
            if interface is not None:
                await store.record(CallConnected(call_id=call_id, at=now, queue=OPERATOR_QUEUE,
                                                 interface=interface, member_name=interface, waited_seconds=3.0))
            ticket = await store.by_linkedid(call_id)
            assert ticket is not None
            return ticket.id

        op1 = await user(sessions, "op1")
        dispatcher = await user(sessions, "dispatcher")
        normal = intake_form.IntakeData(verdict="normal", category="fire", address="Jl. Merdeka 1, Bandung",
                                   description="Asap dari dapur", callback_number="081234567890")
        in_call = await arrive("1764230400.1", "PJSIP/op1")
        escalated = await arrive("1764230400.2", "PJSIP/op1")
        await intake.complete_intake(sessions, None, escalated, op1, normal)
        dispatched = await arrive("1764230400.3", "PJSIP/op1")
        await intake.complete_intake(sessions, None, dispatched, op1, normal)
        await dispatching.dispatch(sessions, None, dispatched, ["damkar"], "Segera", dispatcher)
        await arrive("1764230400.4", None)
        await store.record(CallQueued(call_id="1764230400.4", at=now, queue=OPERATOR_QUEUE, position=1,
                                      channel="PJSIP/caller-4"))
        await store.record(CallAbandoned(call_id="1764230400.4", at=now, queue=OPERATOR_QUEUE, position=1,
                                         waited_seconds=20.0))
        await store.record(CallEnded(call_id="1764230400.4", at=now, cause=16, cause_text="Normal Clearing"))
        await Locations(sessions, None).add_manual_fix(in_call, -6.9147, 107.6098, "Jl. Asia Afrika", "op1")
    finally:
        await engine.dispose()


async def user(sessions: async_sessionmaker[AsyncSession], username: str) -> User:
    """The account ``username`` (as the use cases take their actor)."""
    async with sessions() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
    found = await get_user(sessions, user_id)
    assert found is not None
    return found


@dataclass
class LivePanel:
    services: Services
    server: TestServer
    base_url: str

    def login(self, role: str, *, observer: bool = False) -> tuple[requests.Session, str]:
        """A browser logged in as ``role`` (blocking: call from a worker thread) and its CSRF token."""
        username = (OBSERVERS if observer else ACCOUNTS)[role]
        http = requests.Session()
        token = http.get(f"{self.base_url}/api/session", timeout=30).json()["csrf_token"]
        answer = http.post(f"{self.base_url}/api/session", headers={CSRF_HEADER: token}, timeout=30,
                           json={"username": username, "password": password(username)})
        assert answer.status_code == 200, answer.text
        return http, answer.json()["csrf_token"]
