"""Triage beyond scoring: positions on the ticket, a link that is down, bad settings."""

from __future__ import annotations

import asyncio
import contextlib
import types
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from ngcc112.ami.events import (
    CallArrived,
    CallEnded,
    CallerDigit,
    CallQueued,
    CallVariables,
)
from ngcc112.ami.link import AmiNotConnected
from ngcc112.clock import VirtualClock, utc
from ngcc112.hub import Hub
from ngcc112.settings import Settings
from ngcc112.sim import CallScript
from ngcc112.sim.calls import Location
from ngcc112.sim.driver import Driver
from ngcc112.tickets.db import make_engine, make_sessions
from ngcc112.tickets.models import Ticket
from ngcc112.tickets.store import TicketStore
from ngcc112.tickets.blocklist import add_to_blocklist
from ngcc112.triage.service import Triage


async def test_the_sip_position_and_an_early_aml_message_end_up_on_the_ticket(pipeline):
    pipe = await pipeline()
    number = "081277770001"
    at = pipe.triage.now()
    body = urlencode({"v": "3", "device_number": "+6281277770001", "time": int(at.timestamp() * 1000),
                      "location_latitude": "-6.3001", "location_longitude": "106.9002",
                      "location_accuracy": "8"}).encode()
    early = await pipe.triage.aml_locations.receive_aml(body, "application/x-www-form-urlencoded", "", at,
                                                       authenticated_as="secret:sms-gateway")
    assert early.ticket_id is None
    await pipe.sim.place_call(CallScript.with_location(
        number=number, location=Location.circle(-6.25, 106.85, radius=30, confidence=90)))
    await pipe.settle()
    async with pipe.services.sessions() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.caller_number == number))
    views = await pipe.triage.aml_locations.locations.fixes_for(ticket.id)
    by_source = {v.fix.source: v for v in views}
    assert set(by_source) == {"sip", "aml"}
    first = min(views, key=lambda v: v.id)
    assert first.accepted and sum(v.accepted for v in views) == 1
    sip = by_source["sip"].fix
    assert (sip.latitude, sip.longitude, sip.radius_m, sip.confidence_pct, sip.method) == \
        (-6.25, 106.85, 30, 90, "GPS")
    assert by_source["aml"].aml_message_id == early.message_id


async def test_a_blocklisted_number_is_lowered_but_still_queued_and_answered(pipeline):
    pipe = await pipeline(routing={"weight_blocklist": 0.7})
    number = "081266660001"
    await add_to_blocklist(pipe.services.sessions, number, "calls daily to insult operators",
                           "spv.rina", at=pipe.triage.now() - timedelta(days=1))
    pipe.add_operator("op1", talk_seconds=3.0)
    placed = await pipe.sim.place_call(CallScript(number=number, hangup_after=None))
    await pipe.settle()
    assert placed.outcome == "answered"
    (change,) = pipe.actions("QueueChangePriorityCaller")
    assert int(change["Priority"]) == -10
    async with pipe.services.sessions() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.caller_number == number))
    blocked = next(r for r in ticket.score_reasons if r["code"] == "blocklisted")
    assert "spv.rina" in blocked["en"] and "daftar penyalahgunaan" in blocked["id"]


class _DownLink:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.sent: list[object] = []

    async def send(self, action):
        self.sent.append(action)
        raise self.error


@pytest.mark.parametrize("error", [AmiNotConnected("AMI link is down"), TimeoutError(),
                                   RuntimeError("Response: Error")])
async def test_a_link_that_is_down_is_logged_and_the_score_still_stored(database_url, error):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    hub = Hub()
    store = TicketStore(sessions, hub.publish)
    link = _DownLink(error)
    tracker = types.SimpleNamespace(call_channel=lambda call_id: "PJSIP/caller1-00000001")
    clock = VirtualClock()
    driver = Driver(clock)
    triage = Triage(Settings().routing, sessions, hub, tracker, link, clock=clock)
    driver.watch(quiet=lambda: triage.is_idle, probe=lambda: len(link.sent))
    await triage.start()
    t0 = utc(clock)
    events = [
        CallArrived(call_id="c1", at=t0, channel="PJSIP/caller1-00000001", uniqueid="u1",
                    caller_number="081211112222", caller_name=None, exten="112"),
        CallVariables(call_id="c1", at=t0, variables={"NGCC_ANSWERED_AT": "1"}),
        CallerDigit(call_id="c1", at=t0 + timedelta(seconds=1), digit="5"),
        CallQueued(call_id="c1", at=t0 + timedelta(seconds=4), queue="ngcc112-operators",
                   position=1, channel="PJSIP/caller1-00000001"),
    ]
    try:
        for event in events:  # as the daemon does: on the hub at once, then into the ticket
            hub.publish(event)
            await store.record(event)
        await driver.settle()
        # tried (and tried again at later evaluations while the call waits), never raised
        assert link.sent and {a.name for a in link.sent} == {"QueueChangePriorityCaller"}
        assert {a.get("Priority") for a in link.sent} == {"10"}
        ticket = await store.by_linkedid("c1")
        assert "silent_digit" in {r["code"] for r in ticket.score_reasons}
        await driver.advance(9.0)
        ended = CallEnded(call_id="c1", at=t0 + timedelta(seconds=9), cause=16, cause_text="")
        hub.publish(ended)
        await store.record(ended)
        await driver.settle()
        attempts = len(link.sent)
        assert clock.next_deadline() is None  # no timer left for an ended call
        await driver.advance(60.0)
        assert len(link.sent) == attempts  # ended: nothing more to steer
    finally:
        await triage.stop()
        await engine.dispose()


def test_bad_routing_settings_never_reach_triage_and_are_named():
    with pytest.raises(ValidationError, match="no_speech_seconds"):
        Settings(routing={"no_speech_seconds": "ten"})
    with pytest.raises(ValidationError, match="no_such_knob"):
        Settings(routing={"no_such_knob": 1})
    assert Settings(routing={"no_speech_seconds": 8}).routing.no_speech_seconds == 8.0


class _FlakySessions:
    """Session factory failing like an unreachable database while ``down`` is set."""

    def __init__(self, sessions) -> None:
        self._sessions, self.down = sessions, False
        self.refused = 0

    def _check(self) -> None:
        if self.down:
            from sqlalchemy.exc import OperationalError

            self.refused += 1
            raise OperationalError("connect", {}, ConnectionRefusedError("database is down"))

    def __call__(self, *args, **kwargs):
        self._check()
        return self._sessions(*args, **kwargs)

    def begin(self, *args, **kwargs):
        self._check()
        return self._sessions.begin(*args, **kwargs)


class _GatedSessions:
    """Session factory whose sessions open only once ``gate`` is set (a database that is slow)."""

    def __init__(self, sessions) -> None:
        self._sessions, self.gate, self.waiting = sessions, asyncio.Event(), 0

    @contextlib.asynccontextmanager
    async def _opened(self, factory):
        self.waiting += 1
        await self.gate.wait()
        async with factory() as session:
            yield session

    def __call__(self):
        return self._opened(self._sessions)

    def begin(self):
        return self._opened(self._sessions.begin)


async def test_idle_waits_on_the_work_itself_not_on_a_timer(database_url, monkeypatch):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    gated = _GatedSessions(sessions)
    hub = Hub()
    store = TicketStore(sessions, hub.publish)
    tracker = types.SimpleNamespace(call_channel=lambda c: None)
    triage = Triage(Settings().routing, gated, hub, tracker, _DownLink(AmiNotConnected("down")))
    checks = 0
    idle_now = Triage.is_idle.fget

    def counted(self) -> bool:
        nonlocal checks
        checks += 1
        return idle_now(self)

    monkeypatch.setattr(Triage, "is_idle", property(counted))
    await triage.start()
    try:
        await asyncio.wait_for(triage.idle(), 5)  # nothing received yet: at once
        arrived = CallArrived(call_id="c5", at=datetime.now(UTC), channel="PJSIP/caller1-00000005",
                              uniqueid="u5", caller_number="081211115555", caller_name=None, exten="112")
        await store.record(arrived)
        hub.publish(arrived)
        waiter = asyncio.create_task(triage.idle())
        await _eventually(lambda: gated.waiting)  # the history read waits on the database
        parked = checks
        # a poller would wake within this window; one waiting on the work cannot, however slow the machine
        await asyncio.wait({waiter}, timeout=0.05)
        assert not waiter.done()
        assert checks == parked, "idle() re-checked with nothing done: it polls"
        gated.gate.set()
        await asyncio.wait_for(waiter, 10)  # woken by the finished work
        assert idle_now(triage)
    finally:
        await triage.stop()
        await engine.dispose()


async def test_a_final_score_is_written_once_the_database_is_back(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    flaky = _FlakySessions(sessions)
    hub = Hub()
    store = TicketStore(sessions, hub.publish)
    tracker = types.SimpleNamespace(call_channel=lambda c: None)
    triage = Triage(Settings().routing, flaky, hub, tracker, _DownLink(AmiNotConnected("down")))
    await triage.start()
    t0 = datetime.now(UTC)
    try:
        arrived = CallArrived(call_id="c2", at=t0, channel="PJSIP/caller1-00000002", uniqueid="u2",
                              caller_number="081211113333", caller_name=None, exten="112")
        hub.publish(arrived)
        await store.record(arrived)
        await triage.idle()
        flaky.down = True
        ended = CallEnded(call_id="c2", at=t0 + timedelta(seconds=1.5), cause=16, cause_text="")
        hub.publish(ended)
        await store.record(ended)
        await _eventually(lambda: flaky.refused >= 2)  # the final score tried, and tried again
        assert (await store.by_linkedid("c2")).ghost_score is None
        flaky.down = False
        await asyncio.wait_for(triage.idle(), 10)
        ticket = await store.by_linkedid("c2")
        assert ticket.ghost_score is not None
        assert "prompt_hangup" in {r["code"] for r in ticket.score_reasons}
    finally:
        await triage.stop()
        await engine.dispose()


async def test_a_call_found_by_a_resync_is_scored_on_its_history_only(database_url):
    engine = make_engine(database_url)
    sessions = make_sessions(engine)
    hub = Hub()
    store = TicketStore(sessions, hub.publish)
    link = _DownLink(AmiNotConnected("down"))
    tracker = types.SimpleNamespace(call_channel=lambda c: "PJSIP/caller1-00000003")
    clock = VirtualClock()
    driver = Driver(clock)
    triage = Triage(Settings(routing={"no_speech_seconds": 0.2}).routing, sessions, hub, tracker, link,
                    clock=clock)
    driver.watch(quiet=lambda: triage.is_idle, probe=lambda: len(link.sent))
    await triage.start()
    t0 = utc(clock)
    events = [
        CallArrived(call_id="c3", at=t0, channel="PJSIP/caller1-00000003", uniqueid="u3",
                    caller_number="081211114444", caller_name=None, exten="112", adopted=True),
        CallQueued(call_id="c3", at=t0, queue="ngcc112-operators", position=1,
                   channel="PJSIP/caller1-00000003"),
    ]
    try:
        for event in events:
            hub.publish(event)
            await store.record(event)
        await driver.advance(5.0)  # past the no-speech window: no timer for an adopted call
        ticket = await store.by_linkedid("c3")
        assert ticket.ghost_score == 0.0 and ticket.score_reasons == []
        assert link.sent == []
    finally:
        await triage.stop()
        await engine.dispose()


class _HungSessions:
    """A database that accepts the connection and then never answers."""

    def __call__(self, *args, **kwargs):
        return self

    def begin(self, *args, **kwargs):
        return self

    async def __aenter__(self):
        await asyncio.Event().wait()

    async def __aexit__(self, *exc):
        return False


async def test_a_hung_database_does_not_delay_raising_a_caller_who_pressed_5():
    hub = Hub()
    sent: list[object] = []

    class Link:
        async def send(self, action):
            sent.append(action)
            return types.SimpleNamespace(ok=True, message="Priority change for caller on queue")

    tracker = types.SimpleNamespace(call_channel=lambda c: "PJSIP/caller1-00000004")
    triage = Triage(Settings().routing, _HungSessions(), hub, tracker, Link())
    await triage.start()
    t0 = datetime.now(UTC)
    try:
        for event in (
            CallArrived(call_id="c4", at=t0, channel="PJSIP/caller1-00000004", uniqueid="u4",
                        caller_number="081211115555", caller_name=None, exten="112"),
            CallVariables(call_id="c4", at=t0, variables={"NGCC_ANSWERED_AT": "1"}),
            CallerDigit(call_id="c4", at=t0 + timedelta(seconds=1), digit="5"),
            CallQueued(call_id="c4", at=t0 + timedelta(seconds=3.5), queue="ngcc112-operators",
                       position=1, channel="PJSIP/caller1-00000004"),
        ):
            hub.publish(event)
        await _eventually(lambda: sent)  # the history read times out after 2 s; nothing else waits
        assert [a.get("Priority") for a in sent] == ["10"]
    finally:
        await triage.stop(flush_timeout=0.1)


async def _eventually(condition, timeout: float = 20.0) -> None:
    """Wait (real time: a database thread, a timeout) until ``condition()`` holds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)
