"""The AMI link under faults: bad secret, unreachable host, bad frames, dead peers, dropped links."""

from __future__ import annotations

import asyncio

import pytest

from ngcc112.ami import actions
from ngcc112.ami.actions import AmiInjectionError
from ngcc112.ami.link import AmiAuthError, AmiLink, AmiUnreachableError
from ngcc112.backoff import capped_delay
from ngcc112.sim.replay import AnswerBook, Transcript, TranscriptServer
from ngcc112.settings import AmiSettings
from ngcc112.clock import VirtualClock
from ngcc112.sim import AmiSimulator
from ngcc112.sim.calls import CallScript
from ngcc112.sim.config import AmiUser, SimulatorConfig
from ngcc112.sim.driver import Driver

from ami_peers import ScriptedAsterisk

#: Real seconds a wait may take before the test fails (a hang, never a slow machine).
REAL_TIMEOUT = 30.0


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for(predicate, timeout: float | None = None, what: str = "condition") -> None:
    """Until ``predicate()`` holds; a real-time bound that only a hang can reach."""
    timeout = REAL_TIMEOUT if timeout is None else timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def test_backoff_doubles_and_is_capped():
    delays = [capped_delay(n, 0.5, 30.0) for n in range(10)]
    assert delays[:4] == [0.5, 1.0, 2.0, 4.0]
    assert max(delays) == 30.0


@pytest.mark.parametrize("value", ["x\r\nAction: Hangup", "line\nbreak", "nul\x00"])
def test_values_with_line_breaks_are_refused_as_ami_injection(value):
    with pytest.raises(AmiInjectionError, match="Reason"):
        actions.queue_pause("PJSIP/op1", True, reason=value)


async def test_wrong_secret_is_a_fatal_auth_error(transcripts_dir):
    server = TranscriptServer([Transcript.load(transcripts_dir / "d_login_bad_secret")],
                              AnswerBook(transcripts_dir))
    await server.start()
    link = AmiLink(AmiSettings(port=server.port, secret="wrong"), lambda item: None)
    with pytest.raises(AmiAuthError, match="Authentication failed"):
        await asyncio.wait_for(link.run(), REAL_TIMEOUT)
    await server.stop()


async def test_unreachable_asterisk_gives_up_at_start_with_a_clear_error():
    link = AmiLink(AmiSettings(port=free_port(), reconnect_min=0.01), lambda item: None,
                   startup_attempts=2)
    with pytest.raises(AmiUnreachableError, match=r"cannot reach Asterisk AMI at 127\.0\.0\.1:\d+"):
        await asyncio.wait_for(link.run(), REAL_TIMEOUT)


def newchannel(uniqueid: str, name: str) -> bytes:
    return (f"Event: Newchannel\r\nPrivilege: call,all\r\nChannel: PJSIP/caller1-0000000{uniqueid[-1]}\r\n"
            f"ChannelState: 4\r\nChannelStateDesc: Ring\r\nCallerIDNum: 5550101\r\nCallerIDName: {name}\r\n"
            f"Context: from-pstn\r\nExten: 112\r\nPriority: 1\r\nUniqueid: {uniqueid}\r\nLinkedid: {uniqueid}\r\n\r\n"
            ).encode("utf-8")


async def test_malformed_frames_are_logged_and_the_calls_around_them_still_get_tickets(start_daemon):
    name_bytes = newchannel("1795843000.1", "Budi Śantoso")
    split = name_bytes.index("Ś".encode()) + 1  # cut the TCP stream inside the UTF-8 letter
    peer = ScriptedAsterisk([
        b"this is not AMI at all\r\n\r\n",
        b"Foo: bar\r\nBaz: qux\r\n\r\n",
        b"\x00\xff\xfe garbage \r\n\r\n",
        name_bytes[:split], name_bytes[split:],
        newchannel("1795843000.2", "Second Caller"),
    ])
    port = await peer.start()
    running = await start_daemon(port)
    await wait_for(lambda: running.daemon.stats.tickets_written >= 2, what="two tickets")
    await running.daemon.drained()
    tickets = {t.linkedid: t for t in await running.store.recent()}
    assert tickets["1795843000.1"].caller_name == "Budi Śantoso"
    assert "1795843000.2" in tickets
    assert running.daemon.link._protocol.malformed_frames == 3
    assert running.daemon.link.connected
    await peer.stop()


async def test_a_peer_that_stops_answering_pings_is_dropped_and_reconnected(start_daemon):
    peer = ScriptedAsterisk([], answer_pings=False)
    port = await peer.start()
    running = await start_daemon(port, ping_interval=0.1)
    await wait_for(lambda: peer.logins >= 2, what="a second login after missed pings")
    assert "ping" in running.daemon.link.status.last_error or running.daemon.link.status.session >= 2
    await peer.stop()


async def test_link_drop_with_five_queued_calls_resyncs_to_exactly_one_ticket_each(start_daemon):
    """The simulator runs on virtual time, moved only at quiet moments (everything it
    delivered to the daemon tracked and stored); the outage is the simulator refusing
    connections, not a race against the daemon's reconnect delay."""
    clock = VirtualClock()
    admin_user = AmiUser(secret="admin-secret", read=(), write=("all",))
    sim = AmiSimulator(SimulatorConfig(queue_timeout=3600.0,
                                       users={"ngcc": AmiUser(secret="ngcc-secret"), "admin": admin_user}),
                       clock=clock)
    await sim.start()
    sim.set_softphone("op1", answers=True, ring_seconds=0.2, talk_seconds=3600.0)
    running = await start_daemon(sim.port)
    daemon_sessions: set = set()

    def delivered_to_daemon() -> int:
        daemon_sessions.update(s for s in sim.sessions if s.username == "ngcc")
        return sum(s.events_out for s in daemon_sessions)

    driver = Driver(clock)
    driver.watch(quiet=lambda: (running.daemon.stats.ami_events == delivered_to_daemon()
                                and running.daemon.is_drained),
                 probe=lambda: (sim.events_delivered, running.daemon.stats.ami_events,
                                running.daemon.stats.tickets_written, running.daemon.link.status.session))
    queue = sim.engine.queues["ngcc112-operators"]

    async def tickets():
        return {t.caller_number: t for t in await running.store.recent()}

    await wait_for(lambda: running.daemon.link.connected, timeout=REAL_TIMEOUT, what="link up")
    admin = AmiLink(AmiSettings(port=sim.port, username="admin", secret="admin-secret"), lambda item: None)
    admin_task = asyncio.create_task(admin.run())
    await wait_for(lambda: admin.connected, timeout=REAL_TIMEOUT, what="admin link")
    calls = [await sim.place_call(CallScript(number=f"555200{i}", hangup_after=None)) for i in range(5)]
    await driver.run_until(lambda: len(queue.entries) == 5, within=30.0, timeout=REAL_TIMEOUT)
    await wait_for(lambda: _all_queued(tickets, 5), timeout=REAL_TIMEOUT, what="five queued tickets")

    # The link drops, and AMI stays unreachable until the test says so. While the daemon
    # is away: two callers hang up, an operator answers one, and a sixth caller arrives.
    await sim.stop_listening()
    for session in [s for s in sim.sessions if s.username == "ngcc"]:
        session.abort()
    await wait_for(lambda: not running.daemon.link.connected, timeout=REAL_TIMEOUT, what="link down")
    for call in calls[:2]:
        await admin.send(actions.hangup(call.channel))
    await admin.send(actions.queue_add("ngcc112-operators", "PJSIP/op1", "op1"))
    await driver.run_until(lambda: bool(calls[2].answered_by), within=10.0, timeout=REAL_TIMEOUT)
    sixth = await sim.place_call(CallScript(number="5552005", hangup_after=None))
    await driver.run_until(lambda: any(e.call.placed is sixth for e in queue.entries), within=30.0,
                           timeout=REAL_TIMEOUT)
    assert running.daemon.link.status.session == 1

    await sim.listen_again()
    await wait_for(lambda: running.daemon.link.status.session >= 2 and running.daemon.link.connected,
                   timeout=REAL_TIMEOUT, what="reconnect")
    await wait_for(lambda: _has(tickets, "5552005"), timeout=REAL_TIMEOUT, what="the sixth call adopted")
    await driver.settle(REAL_TIMEOUT)
    await running.daemon.drained()
    after = await tickets()
    assert sorted(after) == [f"555200{i}" for i in range(6)]
    for number in ("5552000", "5552001"):
        assert after[number].ended_at and after[number].abandoned and after[number].ended_unobserved
    assert after["5552002"].answered_at and after["5552002"].operator_interface == "PJSIP/op1"
    assert after["5552005"].queued_at is not None and after["5552005"].ended_at is None

    # The rest end normally, observed live.
    for call in [*calls[2:], sixth]:
        await admin.send(actions.hangup(call.channel))
    await wait_for(lambda: _all_ended(tickets), timeout=REAL_TIMEOUT, what="every ticket ended")
    final = await tickets()
    assert len(final) == 6
    assert [n for n, t in sorted(final.items()) if t.abandoned] == ["5552000", "5552001", "5552003",
                                                                  "5552004", "5552005"]
    assert final["5552002"].state == "in_call" and not final["5552002"].abandoned
    await admin.stop()
    admin_task.cancel()
    await sim.stop()


async def _all_queued(tickets, count: int) -> bool:
    found = await tickets()
    return len(found) == count and all(t.queued_at for t in found.values())


async def _has(tickets, number: str) -> bool:
    return number in await tickets()


async def _all_ended(tickets) -> bool:
    return all(t.ended_at for t in (await tickets()).values())


async def test_listeners_get_every_event_and_a_failing_one_does_not_cut_the_link(start_daemon):
    peer = ScriptedAsterisk([newchannel("1795843000.7", "Listener")])
    port = await peer.start()
    running = await start_daemon(port)
    seen: list[str] = []

    def broken(event) -> None:
        raise RuntimeError("listener bug")

    running.daemon.link.listen(broken)
    stop = running.daemon.link.listen(lambda event: seen.append(event.name))
    await wait_for(lambda: "Newchannel" in seen, what="the listener to see Newchannel")
    stop()
    assert running.daemon.link.connected
    await peer.stop()
